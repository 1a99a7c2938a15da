/**
 * The devices the broker knows: presence, last seen, volume, language, firmware and payment
 * counts (whatever the API has for each; a field it lacks is left out), and the commands a
 * backend can send (POST /v1/devices/:id/commands), the same ones the box's own keys do.
 */
import { useState } from 'preact/hooks';
import type { ApiClient, CommandName, Device } from '../api.ts';
import { formatTime, reportedOf } from '../store.ts';

/** The firmware's loudest volume step (0–10, src/protocol/command.ts). */
const VOLUME_MAX = 10;

interface Props {
  api: ApiClient;
  devices: Device[];
  error: string | null;
  describe(err: unknown): string;
}

export function DevicesList({ api, devices, error, describe }: Props) {
  const [outcome, setOutcome] = useState<{ ok: boolean; text: string } | null>(null);

  const send = async (d: Device, command: CommandName) => {
    setOutcome(null);
    try {
      const r = await api.command(d.id, command);
      const id = (r.command as { id?: string } | null)?.id;
      setOutcome({ ok: true, text: `Sent ${command} to ${d.id}${id ? ` (command ${id})` : ''}.` });
    } catch (err) {
      setOutcome({ ok: false, text: describe(err) });
    }
  };

  return (
    <section class="card" aria-labelledby="devices-title">
      <h2 id="devices-title">Devices</h2>
      <p id="devices-error" role="alert" class="error">
        {error}
      </p>
      <p id="devices-status" role="status" class={outcome?.ok === false ? 'error' : 'ok'}>
        {outcome?.text}
      </p>
      {devices.length === 0 ? (
        <p class="empty">No devices yet: add a speaker in this tab, or start one with npx payspeaker device.</p>
      ) : (
        <ul class="devices" id="devices-list">
          {devices.map((d) => (
            <DeviceCard key={d.id} device={d} send={send} />
          ))}
        </ul>
      )}
    </section>
  );
}

/** The buttons of a card: the box's own keys, sent as commands, and the battery query. */
const COMMANDS: { command: CommandName; label: string }[] = [
  { command: 'volume-down', label: 'Volume down' },
  { command: 'volume-up', label: 'Volume up' },
  { command: 'replay', label: 'Replay' },
  { command: 'summary', label: 'Summary' },
  { command: 'battery', label: 'Battery' },
];

function DeviceCard({ device: d, send }: { device: Device; send(d: Device, c: CommandName): void }) {
  const { firmware, lang, volume } = reportedOf(d);
  const titleId = `device-${d.id}-title`;
  return (
    <li class="device" data-device-id={d.id} data-online={d.online === undefined ? undefined : String(d.online)}>
      <div class="device-head">
        <h3 id={titleId}>{d.id}</h3>
        {d.online !== undefined && (
          <span class={`badge presence ${d.online ? 'online' : 'offline'}`}>{d.online ? 'online' : 'offline'}</span>
        )}
        {d.status === 'revoked' && <span class="badge presence revoked">revoked</span>}
      </div>
      <dl class="facts">
        <Fact name="Last seen" value={d.lastSeen === undefined ? undefined : formatTime(d.lastSeen)} />
        <Fact name="Volume" value={volume === null ? undefined : `${volume} / ${VOLUME_MAX}`} />
        <Fact name="Language" value={lang ?? undefined} />
        <Fact name="Firmware" value={firmware ?? undefined} />
        <Fact name="Last payment" value={d.lastPaymentAt == null ? undefined : formatTime(d.lastPaymentAt)} />
        <Fact name="Payments" value={d.payments ? countsText(d.payments) : undefined} />
      </dl>
      <div class="commands" role="group" aria-labelledby={titleId}>
        {COMMANDS.map((c) => (
          <button
            key={c.command}
            type="button"
            data-command={c.command}
            aria-label={`${c.label} on ${d.id}`}
            disabled={d.status === 'revoked'}
            onClick={() => send(d, c.command)}
          >
            {c.label}
          </button>
        ))}
      </div>
    </li>
  );
}

function Fact({ name, value }: { name: string; value: string | undefined }) {
  if (value === undefined || value === '') return null;
  return (
    <div>
      <dt>{name}</dt>
      <dd>{value}</dd>
    </div>
  );
}

/** { played: 12, summarized: 3, queued: 0 } → "12 played, 3 summarized" (zeros say nothing). */
function countsText(counts: Record<string, number>): string {
  const parts = Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`);
  return parts.length ? parts.join(', ') : 'none';
}
