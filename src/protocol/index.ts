/** Protocol v1: the wire format, defined once for broker and device. See docs/PROTOCOL.md. */
export * from './topics.ts';
export * from './channels.ts';
export * from './money.ts';
export * from './notification.ts';
export * from './ack.ts';
export * from './command.ts';
export * from './signing.ts';
export * from './command-signing.ts';
export * from './time.ts';
export * from './versions.ts';
