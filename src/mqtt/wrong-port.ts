/**
 * An MQTT client pointed at the broker's HTTP API port: the HTTP server answers the CONNECT
 * packet with "HTTP/1.1 400 …", and MQTT.js parses that as MQTT. Its first byte, 'H' (0x48),
 * reads as a PUBACK fixed header (type 4) with flag bits 1000, which MQTT 3.1.1 §2.2.2 forbids,
 * so the client reports "Invalid header flag bits, must be 0x0 for puback packet" — true, and
 * of no help. This turns that into the sentence a person can act on. For every MQTT client:
 * tools (src/mqtt/connect.ts) and the speaker's own session (device/connection.ts). No platform
 * imports: the firmware in a browser tab shares this file.
 */

/** What to say instead; `url` is where the client tried to connect. */
export function wrongPortMessage(url?: string): string {
  const where = url ? `${url}: ` : '';
  return `${where}this port answers HTTP, not MQTT: it is the broker's HTTP API port; MQTT is on --port (1883 by default)`;
}

/** True when `bytes` (the first bytes a server sent) are an HTTP response, not MQTT. */
export function isHttpResponse(bytes: Uint8Array): boolean {
  const head = 'HTTP/1.';
  if (bytes.length < head.length) return false;
  for (let i = 0; i < head.length; i++) if (bytes[i] !== head.charCodeAt(i)) return false;
  return true;
}

/**
 * The plain-language line for an error from an MQTT client whose server spoke HTTP, or null
 * when `err` is not that. Recognises MQTT.js's (mqtt-packet's) parse error for the byte 'H'.
 */
export function describeWrongPort(err: Error, url?: string): string | null {
  return /Invalid header flag bits, must be 0x0 for puback packet/.test(err.message) ? wrongPortMessage(url) : null;
}
