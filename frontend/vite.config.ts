/// <reference types="vitest/config" />
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// JSX goes through Vite's own esbuild (no Babel plugin needed). In development
// `npm run dev` proxies the API to a running core (MOOLAI_API, default the
// stack.sh address), so the dashboard talks to the same origin as in production.
const api = process.env.MOOLAI_API ?? 'http://127.0.0.1:8765';

export default defineConfig({
  esbuild: { jsx: 'automatic' },
  resolve: { alias: { '@lib': fileURLToPath(new URL('./src/lib', import.meta.url)) } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // No source maps in the build: core would serve them to anyone (the whole
    // source, 1.9 MB); core also refuses `.map` paths.
    sourcemap: false,
    chunkSizeWarningLimit: 800,
    rollupOptions: {
      // Libraries' "use client" directives mean nothing in a client-only bundle.
      onwarn(warning, warn) {
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE' || warning.code === 'SOURCEMAP_ERROR') return;
        warn(warning);
      },
    },
  },
  server: {
    proxy: {
      '/api': { target: api, changeOrigin: false },
      '/health': { target: api },
    },
  },
  test: {
    environment: 'happy-dom',
    include: ['src/**/*.test.{ts,tsx}'],
    restoreMocks: true,
    setupFiles: ['src/test/setup.ts'],
  },
});
