/** The firmware and CLI version, reported in the device's retained state. Kept equal to package.json by a test. */
export const VERSION = '0.1.0';
