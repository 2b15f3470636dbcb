// Packaging: `npm run build`, then `npx electron-builder --config electron-builder.config.cjs`.
// electron-builder is not a dependency of the studio (it downloads Electron for each target, so it
// runs only where that download is reachable). src/main/packaging.spec.ts holds the fuses below to
// what docs/security.md promises.
module.exports = {
  productName: 'ISR Studio',
  directories: { output: 'dist' },
  // The built app only; electron-builder adds package.json and the production node_modules itself.
  files: ['out/**'],
  asar: true,
  // Native code is loaded and run from real files, not from inside the archive.
  asarUnpack: ['node_modules/better-sqlite3/**', 'node_modules/onnxruntime-node/**', 'node_modules/ffmpeg-static/**', 'node_modules/@ffmpeg-installer/**'],
  electronFuses: {
    // The engine runs in a utilityProcess, never through ELECTRON_RUN_AS_NODE.
    runAsNode: false,
    enableCookieEncryption: true,
    enableNodeOptionsEnvironmentVariable: false,
    enableNodeCliInspectArguments: false,
    enableEmbeddedAsarIntegrityValidation: true,
    onlyLoadAppFromAsar: true,
    loadBrowserProcessSpecificV8Snapshot: false,
    // The page is served on the studio-app: scheme, never from file://.
    grantFileProtocolExtraPrivileges: false,
  },
};
