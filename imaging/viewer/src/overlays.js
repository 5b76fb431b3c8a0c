// AI findings drawn over the stack viewport, exactly on their pixels.
//
// Positions come from Cornerstone's own image→world→canvas mapping: the canvas position of image
// coordinates (0,0), (1,0) and (0,1) gives an affine transform, so a mask drawn as a bitmap of
// image pixels (pixel (c, r) spans [c, c+1] × [r, r+1]) lands where the viewport drew those
// pixels, whatever the zoom, pan or flip. Also the box/brush editor for corrections.
import { utilities as csUtils } from '@cornerstonejs/core';
import { decodeRuns } from './data.js';

const PALETTE = [
  [255, 48, 48],
  [255, 200, 0],
  [0, 200, 255],
  [200, 80, 255],
  [0, 230, 120],
  [255, 120, 200],
];

export function labelColour(label, labels) {
  const index = labels.indexOf(label);
  return PALETTE[(index < 0 ? 0 : index) % PALETTE.length];
}

// A frame's mask as {bbox, bits}; a box without a mask is filled.
export function frameMask(item) {
  const [c0, r0, c1, r1] = item.bbox;
  const size = (c1 - c0 + 1) * (r1 - r0 + 1);
  const bits = item.mask ? decodeRuns(item.mask, size) : new Uint8Array(size).fill(1);
  return { bbox: [c0, r0, c1, r1], bits, hasMask: Boolean(item.mask) };
}

function jet(value) {
  const v = value / 255;
  const r = Math.min(1, Math.max(0, 1.5 - Math.abs(4 * v - 3)));
  const g = Math.min(1, Math.max(0, 1.5 - Math.abs(4 * v - 2)));
  const b = Math.min(1, Math.max(0, 1.5 - Math.abs(4 * v - 1)));
  return [r * 255, g * 255, b * 255];
}

export class OverlayLayer {
  constructor(element, viewport) {
    this.element = element;
    this.viewport = viewport;
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'ai-overlay';
    this.canvas.dataset.testid = 'ai-overlay';
    element.appendChild(this.canvas);
    this.ctx = this.canvas.getContext('2d');
    this.opacity = 0.45;
    this.findings = [];
    this.labels = [];
    this.hidden = new Set(); // finding ids
    this.hiddenModels = new Set();
    this.masks = new Map(); // finding id -> Map("sop|frame" -> {bbox, bits})
    this.heatmaps = new Map(); // "id|sop" -> canvas
    this.selected = null;
    this.editor = null;
    this.showContours = true;
  }

  setFindings(findings) {
    this.findings = findings;
    this.labels = [...new Set(findings.map((f) => f.label))];
  }

  setMask(findingId, frames) {
    const byFrame = new Map();
    for (const item of frames) byFrame.set(`${item.sop_instance_uid}|${item.frame || 1}`, frameMask(item));
    this.masks.set(findingId, byFrame);
  }

  // Canvas (CSS pixel) position of continuous image coordinates on the current image.
  transform() {
    const imageId = this.viewport.getCurrentImageId();
    if (!imageId) return null;
    const toCanvas = (x, y) => this.viewport.worldToCanvas(csUtils.imageToWorldCoords(imageId, [x, y]));
    const origin = toCanvas(0, 0);
    const right = toCanvas(1, 0);
    const down = toCanvas(0, 1);
    return {
      a: right[0] - origin[0],
      b: right[1] - origin[1],
      c: down[0] - origin[0],
      d: down[1] - origin[1],
      e: origin[0],
      f: origin[1],
    };
  }

  imageToCanvas(x, y) {
    const t = this.transform();
    return [t.a * x + t.c * y + t.e, t.b * x + t.d * y + t.f];
  }

  canvasToImage(px, py) {
    const t = this.transform();
    const det = t.a * t.d - t.b * t.c;
    const x = px - t.e;
    const y = py - t.f;
    return [(t.d * x - t.c * y) / det, (-t.b * x + t.a * y) / det];
  }

  resize() {
    const ratio = window.devicePixelRatio || 1;
    const width = this.element.clientWidth;
    const height = this.element.clientHeight;
    if (this.canvas.width !== Math.round(width * ratio) || this.canvas.height !== Math.round(height * ratio)) {
      this.canvas.width = Math.round(width * ratio);
      this.canvas.height = Math.round(height * ratio);
      this.canvas.style.width = `${width}px`;
      this.canvas.style.height = `${height}px`;
    }
    return ratio;
  }

  visible(finding) {
    return !this.hidden.has(finding.id) && !this.hiddenModels.has(finding.model || 'reader');
  }

  frameKey(current) {
    return `${current.sop}|${current.frame}`;
  }

  draw(current) {
    const ratio = this.resize();
    const ctx = this.ctx;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    if (!current) return;
    const t = this.transform();
    if (!t) return;
    const key = this.frameKey(current);
    for (const finding of this.findings) {
      if (!this.visible(finding)) continue;
      if (this.editor && this.editor.finding.id === finding.id) continue;
      const colour = labelColour(finding.label, this.labels);
      if (finding.kind === 'heatmap') {
        this.drawHeatmap(finding, current, t, ratio);
        continue;
      }
      const masks = this.masks.get(finding.id);
      const mask = masks && masks.get(key);
      if (mask && mask.hasMask) {
        this.drawMask(mask, colour, t, ratio);
      } else {
        const item = finding.geometry.find((g) => `${g.sop_instance_uid}|${g.frame || 1}` === key);
        if (item) this.drawBox(item.bbox, colour, t, ratio, finding.id === this.selected);
      }
      if (mask && finding.id === this.selected) this.drawBox(mask.bbox, colour, t, ratio, true);
    }
    if (this.editor) this.editor.draw(ctx, t, ratio, key);
  }

  drawMask(mask, colour, t, ratio) {
    const [c0, r0, c1, r1] = mask.bbox;
    const width = c1 - c0 + 1;
    const height = r1 - r0 + 1;
    const bitmap = new OffscreenCanvas(width, height);
    const bctx = bitmap.getContext('2d');
    const pixels = bctx.createImageData(width, height);
    const fill = Math.round(255 * this.opacity);
    for (let row = 0; row < height; row += 1) {
      for (let col = 0; col < width; col += 1) {
        const index = row * width + col;
        if (!mask.bits[index]) continue;
        const edge =
          this.showContours &&
          (col === 0 || row === 0 || col === width - 1 || row === height - 1 ||
            !mask.bits[index - 1] || !mask.bits[index + 1] ||
            !mask.bits[index - width] || !mask.bits[index + width]);
        const o = index * 4;
        pixels.data[o] = colour[0];
        pixels.data[o + 1] = colour[1];
        pixels.data[o + 2] = colour[2];
        pixels.data[o + 3] = edge ? 255 : fill;
      }
    }
    bctx.putImageData(pixels, 0, 0);
    const ctx = this.ctx;
    ctx.save();
    ctx.imageSmoothingEnabled = false;
    ctx.setTransform(
      t.a * ratio, t.b * ratio, t.c * ratio, t.d * ratio,
      (t.a * c0 + t.c * r0 + t.e) * ratio,
      (t.b * c0 + t.d * r0 + t.f) * ratio,
    );
    ctx.drawImage(bitmap, 0, 0);
    ctx.restore();
  }

  drawBox(bbox, colour, t, ratio, dashed) {
    const [c0, r0, c1, r1] = bbox;
    const corners = [
      [c0, r0], [c1 + 1, r0], [c1 + 1, r1 + 1], [c0, r1 + 1],
    ].map(([x, y]) => [(t.a * x + t.c * y + t.e) * ratio, (t.b * x + t.d * y + t.f) * ratio]);
    const ctx = this.ctx;
    ctx.save();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.strokeStyle = `rgb(${colour.join(',')})`;
    ctx.lineWidth = 2 * ratio;
    if (dashed) ctx.setLineDash([6 * ratio, 4 * ratio]);
    ctx.beginPath();
    corners.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    ctx.closePath();
    ctx.stroke();
    ctx.restore();
  }

  drawHeatmap(finding, current, t, ratio) {
    const key = `${finding.id}|${current.sop}`;
    const cached = this.heatmaps.get(key);
    if (cached === undefined) {
      this.heatmaps.set(key, null);
      const image = new Image();
      image.onload = () => {
        const bitmap = new OffscreenCanvas(image.width, image.height);
        const bctx = bitmap.getContext('2d');
        bctx.drawImage(image, 0, 0);
        const data = bctx.getImageData(0, 0, image.width, image.height);
        for (let o = 0; o < data.data.length; o += 4) {
          const value = data.data[o];
          const [r, g, b] = jet(value);
          data.data[o] = r;
          data.data[o + 1] = g;
          data.data[o + 2] = b;
          data.data[o + 3] = value < 8 ? 0 : Math.round(value * this.opacity);
        }
        bctx.putImageData(data, 0, 0);
        this.heatmaps.set(key, bitmap);
        this.onNeedsRedraw && this.onNeedsRedraw();
      };
      image.src = finding.overlay_url.replace('SOP.png', `${current.sop}.png`);
      return;
    }
    if (!cached) return;
    const ctx = this.ctx;
    ctx.save();
    ctx.setTransform(t.a * ratio, t.b * ratio, t.c * ratio, t.d * ratio, t.e * ratio, t.f * ratio);
    ctx.drawImage(cached, 0, 0);
    ctx.restore();
  }
}

// Correcting one finding: move or resize its box on any frame, brush or erase its mask.
// Frames are edited in place in a copy; ``geometry()`` returns what to save.
export class FindingEditor {
  constructor(layer, finding, masks, colour) {
    this.layer = layer;
    this.finding = finding;
    this.colour = colour;
    this.mode = 'box'; // 'box' | 'brush' | 'erase'
    this.radius = 2;
    this.frames = new Map();
    for (const [key, mask] of masks) {
      this.frames.set(key, { bbox: [...mask.bbox], bits: new Uint8Array(mask.bits), hasMask: mask.hasMask });
    }
    this.drag = null;
  }

  draw(ctx, t, ratio, key) {
    const frame = this.frames.get(key);
    if (!frame) return;
    if (frame.hasMask) this.layer.drawMask(frame, this.colour, t, ratio);
    this.layer.drawBox(frame.bbox, [255, 255, 255], t, ratio, true);
    const [c0, r0, c1, r1] = frame.bbox;
    ctx.save();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = '#fff';
    for (const [x, y] of [[c0, r0], [c1 + 1, r0], [c1 + 1, r1 + 1], [c0, r1 + 1]]) {
      const px = (t.a * x + t.c * y + t.e) * ratio;
      const py = (t.b * x + t.d * y + t.f) * ratio;
      ctx.fillRect(px - 4 * ratio, py - 4 * ratio, 8 * ratio, 8 * ratio);
    }
    ctx.restore();
  }

  // A frame that is not part of the finding yet gets a box under the pointer.
  ensureFrame(key, x, y) {
    if (!this.frames.has(key)) {
      const c = Math.floor(x);
      const r = Math.floor(y);
      this.frames.set(key, { bbox: [c - 2, r - 2, c + 2, r + 2], bits: new Uint8Array(25).fill(1), hasMask: false });
    }
    return this.frames.get(key);
  }

  pointerDown(key, x, y, imageSize) {
    const frame = this.frames.get(key);
    if (this.mode !== 'box') {
      const target = this.ensureFrame(key, x, y);
      this.drag = { kind: 'paint' };
      this.paint(target, x, y, imageSize);
      return true;
    }
    if (!frame) return false;
    const [c0, r0, c1, r1] = frame.bbox;
    const near = (a, b) => Math.abs(a - b) <= 1.5;
    const corner =
      (near(x, c0) || near(x, c1 + 1)) && (near(y, r0) || near(y, r1 + 1))
        ? { left: near(x, c0), top: near(y, r0) }
        : null;
    if (corner) {
      this.drag = { kind: 'resize', corner, start: [x, y], box: [...frame.bbox] };
      return true;
    }
    if (x >= c0 && x <= c1 + 1 && y >= r0 && y <= r1 + 1) {
      this.drag = { kind: 'move', start: [x, y], box: [...frame.bbox] };
      return true;
    }
    return false;
  }

  pointerMove(key, x, y, imageSize) {
    const frame = this.frames.get(key);
    if (!this.drag || !frame) return;
    const [columns, rows] = imageSize;
    if (this.drag.kind === 'paint') {
      this.paint(frame, x, y, imageSize);
      return;
    }
    const dx = Math.round(x - this.drag.start[0]);
    const dy = Math.round(y - this.drag.start[1]);
    let [c0, r0, c1, r1] = this.drag.box;
    if (this.drag.kind === 'move') {
      const mx = Math.max(-c0, Math.min(columns - 1 - c1, dx));
      const my = Math.max(-r0, Math.min(rows - 1 - r1, dy));
      c0 += mx; c1 += mx; r0 += my; r1 += my;
      frame.bbox = [c0, r0, c1, r1];
      return;
    }
    const { left, top } = this.drag.corner;
    if (left) c0 = Math.min(c1, Math.max(0, c0 + dx));
    else c1 = Math.max(c0, Math.min(columns - 1, c1 + dx));
    if (top) r0 = Math.min(r1, Math.max(0, r0 + dy));
    else r1 = Math.max(r0, Math.min(rows - 1, r1 + dy));
    // A resized box is a box: the old mask no longer describes it.
    frame.bbox = [c0, r0, c1, r1];
    frame.bits = new Uint8Array((c1 - c0 + 1) * (r1 - r0 + 1)).fill(1);
    frame.hasMask = false;
  }

  pointerUp() {
    this.drag = null;
  }

  // Brush or erase a disc of ``radius`` pixels; the box grows to hold what is painted.
  paint(frame, x, y, [columns, rows]) {
    const cx = Math.floor(x);
    const cy = Math.floor(y);
    const r = this.radius;
    const value = this.mode === 'brush' ? 1 : 0;
    let [c0, r0, c1, r1] = frame.bbox;
    if (value) {
      const n0 = Math.max(0, Math.min(c0, cx - r));
      const m0 = Math.max(0, Math.min(r0, cy - r));
      const n1 = Math.min(columns - 1, Math.max(c1, cx + r));
      const m1 = Math.min(rows - 1, Math.max(r1, cy + r));
      if (n0 !== c0 || m0 !== r0 || n1 !== c1 || m1 !== r1) {
        const width = n1 - n0 + 1;
        const grown = new Uint8Array(width * (m1 - m0 + 1));
        const oldWidth = c1 - c0 + 1;
        for (let row = r0; row <= r1; row += 1) {
          for (let col = c0; col <= c1; col += 1) {
            grown[(row - m0) * width + (col - n0)] = frame.bits[(row - r0) * oldWidth + (col - c0)];
          }
        }
        frame.bits = grown;
        [c0, r0, c1, r1] = [n0, m0, n1, m1];
        frame.bbox = [c0, r0, c1, r1];
      }
    }
    const width = c1 - c0 + 1;
    for (let row = Math.max(r0, cy - r); row <= Math.min(r1, cy + r); row += 1) {
      for (let col = Math.max(c0, cx - r); col <= Math.min(c1, cx + r); col += 1) {
        if ((col - cx) ** 2 + (row - cy) ** 2 <= r * r) frame.bits[(row - r0) * width + (col - c0)] = value;
      }
    }
    frame.hasMask = true;
  }

  // The corrected geometry: every frame that still marks a pixel, its box shrunk to the mask.
  geometry(encodeRuns) {
    const out = [];
    for (const [key, frame] of this.frames) {
      const [sop, frameNumber] = key.split('|');
      const [c0, r0, c1, r1] = frame.bbox;
      const width = c1 - c0 + 1;
      let n0 = Infinity, m0 = Infinity, n1 = -1, m1 = -1;
      for (let row = r0; row <= r1; row += 1) {
        for (let col = c0; col <= c1; col += 1) {
          if (frame.bits[(row - r0) * width + (col - c0)]) {
            n0 = Math.min(n0, col); n1 = Math.max(n1, col);
            m0 = Math.min(m0, row); m1 = Math.max(m1, row);
          }
        }
      }
      if (n1 < 0) continue;
      const item = { sop_instance_uid: sop, frame: Number(frameNumber), bbox: [n0, m0, n1, m1] };
      if (frame.hasMask) {
        const bits = [];
        for (let row = m0; row <= m1; row += 1) {
          for (let col = n0; col <= n1; col += 1) bits.push(frame.bits[(row - r0) * width + (col - c0)]);
        }
        item.mask = encodeRuns(bits);
      }
      out.push(item);
    }
    return out;
  }
}
