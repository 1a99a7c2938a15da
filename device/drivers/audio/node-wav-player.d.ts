// node-wav-player names a types file in package.json but does not publish it.
declare module 'node-wav-player' {
  interface PlayParams {
    path: string;
    /** Resolve when playback ends (otherwise after a fixed 500 ms, with later failures lost). */
    sync?: boolean;
    loop?: boolean;
  }
  interface WavPlayer {
    play(params: PlayParams): Promise<void>;
    /** Throws if nothing was ever played. */
    stop(): void;
  }
  const player: WavPlayer;
  export default player;
}
