import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';

// The API docs (/docs) use Swagger UI from swagger-ui-dist, copied into dist/swagger/ so they
// work offline: never a CDN.
function swaggerUiAssets(): Plugin {
  const require = createRequire(import.meta.url);
  const dist = dirname(require.resolve('swagger-ui-dist/package.json'));
  return {
    name: 'flowplane-swagger-ui',
    apply: 'build',
    generateBundle() {
      for (const file of ['swagger-ui-bundle.js', 'swagger-ui.css', 'favicon-32x32.png']) {
        this.emitFile({ type: 'asset', fileName: `swagger/${file}`, source: readFileSync(join(dist, file)) });
      }
    },
  };
}

// The dev server proxies the API to a running `flowplane up` (default port 8000).
const apiTarget = process.env.FLOWPLANE_API ?? 'http://127.0.0.1:8000';

export default defineConfig({
  plugins: [react(), swaggerUiAssets()],
  server: {
    proxy: {
      '/api': { target: apiTarget, changeOrigin: true },
      '/health': { target: apiTarget, changeOrigin: true },
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Monaco is large by nature; it lives in its own lazily loaded chunk.
    chunkSizeWarningLimit: 4096,
    rollupOptions: {
      output: {
        // Name the lazy chunks after what they carry, without moving modules between chunks
        // (manualChunks would pull React or Vite's preload helper into them and make them eager).
        chunkFileNames(chunk) {
          if (chunk.moduleIds.some((id) => id.includes('/monaco-editor/esm/vs/editor/editor.api'))) return 'assets/monaco-[hash].js';
          if (chunk.moduleIds.some((id) => id.includes('/node_modules/monaco-editor/'))) return 'assets/monaco-[name]-[hash].js';
          if (chunk.moduleIds.some((id) => id.includes('/node_modules/@xyflow/'))) return 'assets/canvas-[hash].js';
          return 'assets/[name]-[hash].js';
        },
      },
    },
  },
});
