/**
 * `payspeaker image build`: bundle the firmware into a signed, versioned image for a Raspberry
 * Pi (flash it with `payspeaker flash`, or send it over the air with `payspeaker ota`).
 * Progress on stderr; the result on stdout (`--json`: the release as one JSON object).
 */
import path from 'node:path';
import { Command, Option } from 'commander';
import { loadBackendPrivateKey } from '../../../broker/backend-keys.ts';
import { brokerDir } from '../../../broker/data-dir.ts';
import { buildImage } from '../../image/build.ts';
import { LANGUAGES, type Language } from '../../../src/speech/index.ts';
import type { LogLevel } from '../../../src/log.ts';
import { addDataOption, resolveDataDir, type DataFlags } from '../data-option.ts';
import { commonOptions, type CliContext } from '../context.ts';
import { CliError, EXIT } from '../exit-codes.ts';

interface BuildFlags extends DataFlags {
  out: string;
  imageVersion?: string;
  lang?: Language[];
  espeak: boolean;
  force?: boolean;
  json?: boolean;
  logLevel: LogLevel;
}

function parseLangs(value: string, previous: Language[] | undefined): Language[] {
  const langs = value
    .split(',')
    .map((l) => l.trim())
    .filter(Boolean);
  for (const l of langs) {
    if (!(LANGUAGES as readonly string[]).includes(l))
      throw new CliError(
        `--lang ${JSON.stringify(l)} is not a language payspeaker speaks: use ${LANGUAGES.join(', ')} (comma-separated or repeated)`,
      );
  }
  return [...new Set([...(previous ?? []), ...(langs as Language[])])];
}

export function imageCommand(ctx: CliContext): Command {
  return new Command('image')
    .description('build firmware images for a Raspberry Pi speaker (docs/FIRMWARE.md)')
    .addCommand(buildCommand(ctx).exitOverride());
}

function buildCommand(ctx: CliContext): Command {
  const s = ctx.settings;
  const cmd = new Command('build')
    .description(
      'bundle the firmware (Node 18+), its voice packs, loader and systemd unit into a signed image, tarball and release',
    )
    .option('--out <dir>', 'where the image folder, .tar.gz and release .json go', './firmware')
    .option(
      '--image-version <version>',
      'image version (default: package version + "+" + UTC build time, e.g. 0.1.0+20250101120000); not --version, which prints payspeaker\'s own',
    )
    .addOption(
      new Option(
        '--lang <langs>',
        `voice packs to carry, comma-separated or repeated (default: all of ${LANGUAGES.join(', ')})`,
      ).argParser(parseLangs),
    )
    .option(
      '--no-espeak',
      'leave out eSpeak NG (24 MB): sentences without recorded clips (rare currencies) cannot be spoken',
    )
    .option('--force', 'replace an image of the same version in --out')
    .addOption(commonOptions.json())
    .addOption(commonOptions.logLevel(s))
    .addHelpText(
      'after',
      `
The image is signed with the backend's key from the data directory (DIR/broker/backend-key.pem,
made by "payspeaker broker" or "payspeaker provision"); speakers provisioned from that directory
accept it, others refuse it.

Examples:
  npx payspeaker image build                                  ./firmware/payspeaker-firmware-0.1.0+<time>/ .tar.gz .json
  npx payspeaker image build --image-version 1.2.0 --lang zh-CN    one voice pack, a fixed version
  npx payspeaker image build --json | jq -r .file             the release, for scripts`,
    );
  return addDataOption(cmd, s).action(async (flags: BuildFlags) => {
    const log = ctx.logger({ level: flags.logLevel, json: Boolean(flags.json), name: 'image' });
    const dataDir = resolveDataDir(flags);
    let privateKey;
    try {
      privateKey = loadBackendPrivateKey(brokerDir(dataDir));
    } catch (err) {
      throw new CliError((err as Error).message, EXIT.FAILURE);
    }
    if (!privateKey) {
      throw new CliError(
        `no backend signing key in ${brokerDir(dataDir)}: start the broker once with --data ${dataDir} (it makes the key), or point --data at the broker's data directory`,
      );
    }
    const started = performance.now();
    let built;
    try {
      built = await buildImage({
        outDir: flags.out,
        version: flags.imageVersion,
        privateKey,
        langs: flags.lang,
        espeak: flags.espeak,
        force: flags.force,
        log,
        onProgress: (line) => process.stderr.write(`${line}\n`),
      });
    } catch (err) {
      const usage = /already exists|is not usable|not installed/.test((err as Error).message);
      throw new CliError(`image build failed: ${(err as Error).message}`, usage ? EXIT.USAGE : EXIT.FAILURE);
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    if (flags.json) {
      ctx.print(
        JSON.stringify({ ...built.release, dir: built.dir, tarball: built.tarball, releaseFile: built.releaseFile }),
      );
      return;
    }
    const rel = (p: string) => path.relative(process.cwd(), p) || '.';
    ctx.print(`built payspeaker firmware ${built.version} in ${seconds} s`);
    ctx.print(`  image    ${rel(built.dir)}/ (${Object.keys(built.manifest.files).length} files, manifest signed)`);
    ctx.print(
      `  tarball  ${rel(built.tarball)} (${(built.release.size / 1024 / 1024).toFixed(1)} MB, sha256 ${built.release.sha256.slice(0, 16)}…)`,
    );
    ctx.print(`  release  ${rel(built.releaseFile)}`);
  });
}
