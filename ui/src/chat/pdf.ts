// The PDF preview of Agregar archivo: pdf.js (pdfjs-dist, legacy build for older webviews),
// loaded only when a PDF is staged (this module is imported with `import()`, so neither it nor
// pdf.js is in the main bundle). The file is read here and handed to pdf.js as bytes.
import * as pdfjs from 'pdfjs-dist/legacy/build/pdf.mjs';
import workerUrl from 'pdfjs-dist/legacy/build/pdf.worker.min.mjs?url';

pdfjs.GlobalWorkerOptions.workerSrc = workerUrl;

export interface PdfPreview {
  pages: number;
  /** Draws page 1 `width` CSS pixels wide. */
  renderFirstPage(canvas: HTMLCanvasElement, width: number): Promise<void>;
  destroy(): void;
}

export async function openPdf(url: string): Promise<PdfPreview> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`preview ${response.status}`);
  const data = new Uint8Array(await response.arrayBuffer());
  const doc = await pdfjs.getDocument({ data, isEvalSupported: false }).promise;
  return {
    pages: doc.numPages,
    async renderFirstPage(canvas, width) {
      const page = await doc.getPage(1);
      const base = page.getViewport({ scale: 1 });
      const ratio = globalThis.devicePixelRatio || 1;
      const viewport = page.getViewport({ scale: (width / base.width) * ratio });
      canvas.width = Math.floor(viewport.width);
      canvas.height = Math.floor(viewport.height);
      canvas.style.width = `${Math.floor(viewport.width / ratio)}px`;
      await page.render({ canvas, viewport }).promise;
    },
    destroy() {
      void doc.destroy();
    },
  };
}
