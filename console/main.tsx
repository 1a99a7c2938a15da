/**
 * The web console's entry point (bundled by esbuild into /console.js; index.html loads it as
 * a module and links /console.css, a plain stylesheet: no inline script or style, for the CSP).
 *
 * For browser tests, `window.payspeaker.speakers` is a Map from speaker id to the SpeakerView
 * (console/speaker/types.ts) of every speaker running in this tab: a test reads
 * `await window.payspeaker.speakers.get('SPK-WEB-1').playedDigest()` for the PCM the tab
 * played, or `.snapshot()` for what the box shows. An id appears once its firmware has
 * started and disappears when it is removed.
 */
// First: before any module builds a zod schema (see the file).
import './zod-jitless.ts';
import { render } from 'preact';
import { startBrowserSpeaker } from './speaker/run.ts';
import type { SpeakerView } from './speaker/types.ts';
import { SpeakersInTab } from './speakers.ts';
import { App } from './app/App.tsx';

declare global {
  interface Window {
    payspeaker: { speakers: Map<string, SpeakerView> };
  }
}

const speakers = new SpeakersInTab(startBrowserSpeaker, location.origin);
window.payspeaker = { speakers: speakers.views };

const root = document.getElementById('app');
if (!root) throw new Error('console/index.html has no #app element to draw the console in');
render(<App speakers={speakers} />, root);
