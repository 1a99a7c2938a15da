/**
 * The house rules, checked in `npm test` (`npm run deps`). Rooms depend one way:
 *
 *   src/     the kernel (protocol, speech, voice, audio, mqtt helpers, config, log, image format)
 *   broker/  the cloud side          imports the kernel only
 *   device/  the firmware            imports the kernel only; the platform only through its board
 *   tools/   CLI, fleet, chaos, flash, image build, clients: the only code that imports both sides
 *   console/ the web console's page (a tool on top, in a browser): imports the firmware and the kernel;
 *            the broker serves it by file path, never by import
 *
 * Why each rule exists is in its comment; docs/ARCHITECTURE.md says where things go.
 */

/** Firmware application code: everything in device/ except the boards, drivers and boot layer. */
const FIRMWARE_APP = '^device/(?!boards/|drivers/|boot/)';
/** Packages the firmware itself may use: they run the same in Node and in a browser. */
const PORTABLE_PACKAGES = ['mqtt', 'zod', 'eventemitter3'];
/** Code that runs only in a browser tab: the console's page and the firmware's browser platform. */
const BROWSER_CODE =
  '^(console/|device/boards/browser\\.ts$|device/drivers/browser/|device/boot/(compose-browser|voice-http)\\.ts$)';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'A file-level import cycle: split the shared part into its own module (cycles make load order and tests fragile).',
      from: {},
      to: { circular: true },
    },
    {
      name: 'kernel-imports-neither-side',
      severity: 'error',
      comment:
        'src/ is the shared kernel: broker/ and device/ import it, so it must not import them or the tools on top. Move what both need into src/.',
      from: { path: '^src/' },
      to: { path: '^(broker|device|tools|console)/' },
    },
    {
      name: 'broker-not-device',
      severity: 'error',
      comment:
        'The cloud side never imports the firmware or the tools: what both need (wire format, image format) belongs in src/.',
      from: { path: '^broker/' },
      to: { path: '^(device|tools|console)/' },
    },
    {
      name: 'device-not-broker',
      severity: 'error',
      comment:
        'The firmware never imports the cloud side or the tools: a speaker runs on a Pi or in a browser, without the broker. Shared code belongs in src/.',
      from: { path: '^device/' },
      to: { path: '^(broker|tools|console)/' },
    },
    {
      name: 'firmware-through-its-board',
      severity: 'error',
      comment:
        'Firmware application code touches the platform only through its board (device/board.ts): a node: module belongs in a driver (device/drivers/), a board (device/boards/) or the boot layer (device/boot/). Type-only imports are fine.',
      from: { path: FIRMWARE_APP },
      to: { dependencyTypes: ['core'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'firmware-portable-packages',
      severity: 'error',
      comment: `Firmware application code may import only packages that run in Node and in a browser (${PORTABLE_PACKAGES.join(', ')}); a platform package belongs in a driver. Type-only imports are fine.`,
      from: { path: FIRMWARE_APP },
      to: {
        dependencyTypes: ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-no-pkg', 'npm-unknown'],
        dependencyTypesNot: ['type-only'],
        pathNot: `(^|/)node_modules/(${PORTABLE_PACKAGES.join('|')})/`,
      },
    },
    {
      name: 'firmware-app-not-drivers',
      severity: 'error',
      comment:
        'Firmware application code receives its board and never picks a driver or board itself: the boot layer (device/boot/) wires them. Type-only imports are fine.',
      from: { path: FIRMWARE_APP },
      to: { path: '^device/(boards|drivers|boot)/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'browser-code-no-node',
      severity: 'error',
      comment:
        'This code runs in a browser tab, which has no node: modules: use the web platform (WebCrypto, IndexedDB, WebAudio, fetch). The bundle test (test/console) catches what it reaches indirectly. Type-only imports are fine.',
      from: { path: BROWSER_CODE },
      to: { dependencyTypes: ['core'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'console-not-broker-or-tools',
      severity: 'error',
      comment:
        'The console page talks to the broker over HTTP and MQTT only; it bundles the firmware and the kernel, never broker/ or tools/ code (Node-only).',
      from: { path: '^console/' },
      to: { path: '^(broker|tools)/' },
    },
    {
      name: 'no-test-code-in-the-product',
      severity: 'error',
      comment: 'Product code must not import test helpers: they are not shipped, and a firmware image would not build.',
      from: { path: '^(src|broker|device|tools|bin|console)/' },
      to: { path: '^test/' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that resolves to nothing: a typo, or a package missing from package.json.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(out|firmware|coverage)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json', '.d.ts'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
