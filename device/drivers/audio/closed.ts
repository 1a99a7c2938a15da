/** The error every audio driver gives for a play after close(). */
export function closedError(output: string): Error {
  return new Error(`audio sink "${output}" is closed`);
}
