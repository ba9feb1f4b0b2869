import { defineConfig } from '@playwright/test';

// The dashboard's end-to-end tests: Debian's Chromium (never a downloaded browser)
// against the real stack that e2e/global-setup.ts starts. The spec files are one
// story told in order (each starts from where the previous left the fleet), so
// they run in one worker, file after file, sharing one signed-in page.
export default defineConfig({
  testDir: 'e2e',
  testMatch: '*.spec.ts',
  globalSetup: './e2e/global-setup.ts',
  outputDir: 'test-output/results',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  // The heartbeat-rate test watches a whole 30 s window and then some.
  timeout: 120_000,
  expect: { timeout: 5000 },
  reporter: [['list']],
  use: {
    browserName: 'chromium',
    headless: true,
    launchOptions: {
      executablePath: process.env.CHROMIUM_BIN ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
      ],
    },
  },
});
