// Builds the study viewer into static/viewer/ (served by Django as /static/viewer/).
// Output names are stable (viewer.js, viewer.css) so the template can point at them; chunks
// and workers keep content hashes.
import { resolve } from 'node:path';
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/static/viewer/',
  publicDir: false,
  resolve: {
    // vtk.js imports Node's "events"; without the npm package the page dies with
    // "Class extends value undefined".
    alias: { events: 'events' },
  },
  worker: { format: 'es' },
  build: {
    outDir: resolve(__dirname, '../../static/viewer'),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 8000,
    rollupOptions: {
      input: resolve(__dirname, 'src/main.js'),
      output: {
        entryFileNames: 'viewer.js',
        chunkFileNames: 'chunks/[name]-[hash].js',
        assetFileNames: 'assets/[name]-[hash][extname]',
      },
    },
  },
});
