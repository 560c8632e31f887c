import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// Tauri loads `dist/` (frontendDist: ../ui/dist) and, in dev, the server below (devUrl).
export default defineConfig({
  plugins: [svelte()],
  clearScreen: false,
  server: { host: '127.0.0.1', port: 1420, strictPort: true },
  preview: { host: '127.0.0.1', port: 4173, strictPort: true },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 200,
    // The browser-dev fake (platform/demo.ts → fake*.ts) is loaded only outside Tauri: the
    // desktop's page must not preload (fetch and compile) it.
    modulePreload: {
      resolveDependencies: (_file, deps) => deps.filter((d) => !/\/fake-[^/]*\.js$/.test(d)),
    },
  },
  resolve: process.env.VITEST ? { conditions: ['browser'] } : undefined,
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts'],
    setupFiles: ['src/test/setup.ts'],
    restoreMocks: true,
  },
});
