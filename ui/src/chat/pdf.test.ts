// @vitest-environment node
// The PDF preview's loader against pdf.js itself (Node: no canvas, so only the page count).
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { GlobalWorkerOptions } from 'pdfjs-dist/legacy/build/pdf.mjs';
import { describe, expect, it } from 'vitest';
import { tinyPdf } from '../platform/fake-outgoing';
import { openPdf } from './pdf';

describe('openPdf', () => {
  it('reads a staged PDF by its URL and counts its pages', async () => {
    // Under Vitest the worker's `?url` is a dev-server path: point pdf.js at the file.
    const worker = createRequire(import.meta.url).resolve(
      'pdfjs-dist/legacy/build/pdf.worker.min.mjs',
    );
    GlobalWorkerOptions.workerSrc = pathToFileURL(worker).href;
    const bytes = tinyPdf('Cotizacion');
    const url = `data:application/pdf;base64,${Buffer.from(bytes).toString('base64')}`;
    const pdf = await openPdf(url);
    expect(pdf.pages).toBe(1);
    pdf.destroy();
  });

  it('refuses what is not a PDF', async () => {
    await expect(openPdf('data:application/pdf;base64,bm90IGEgcGRm')).rejects.toBeTruthy();
  });
});
