// The study viewer: Cornerstone3D stack viewport over our WADO-RS, the AI findings drawn on
// their pixels, the tools a reader expects, MPR for CT volumes, and the review panel.
import {
  Enums,
  RenderingEngine,
  cache,
  cornerstoneStreamingImageVolumeLoader,
  imageLoader,
  init as coreInit,
  setVolumesForViewports,
  volumeLoader,
} from '@cornerstonejs/core';
import { init as loaderInit } from '@cornerstonejs/dicom-image-loader';
import {
  AngleTool,
  EllipticalROITool,
  Enums as ToolEnums,
  LengthTool,
  PanTool,
  StackScrollTool,
  ToolGroupManager,
  WindowLevelTool,
  ZoomTool,
  addTool,
  annotation,
  init as toolsInit,
} from '@cornerstonejs/tools';
import { ApiError, encodeRuns, getJSON, postJSON, seriesImages } from './data.js';
import { FindingEditor, OverlayLayer, frameMask, labelColour } from './overlays.js';
import { ReviewPanel } from './review.js';

const root = document.getElementById('viewer');
const T = JSON.parse(document.getElementById('viewer-i18n').textContent);
const PRESETS = {
  lung: [1500, -600],
  mediastinum: [350, 50],
  bone: [2000, 500],
  brain: [80, 40],
  abdomen: [400, 40],
};
const TOOLS = {
  windowLevel: WindowLevelTool.toolName,
  pan: PanTool.toolName,
  zoom: ZoomTool.toolName,
  length: LengthTool.toolName,
  angle: AngleTool.toolName,
  ellipse: EllipticalROITool.toolName,
};
const { MouseBindings } = ToolEnums;

const state = {
  data: null,
  series: null,
  images: [],
  index: 0,
  loaded: 0,
  firstRendered: false,
  cine: null,
  inverted: false,
  primaryTool: 'windowLevel',
  mpr: false,
};
let resolveReady;
const ready = new Promise((resolve) => {
  resolveReady = resolve;
});

const $ = (selector) => root.querySelector(selector);

function setStatus(text) {
  const status = $('[data-testid="viewer-status"]');
  if (status) status.textContent = text;
}

function text(element, value) {
  element.textContent = value == null ? '' : String(value);
}

// ---- Cornerstone set-up -------------------------------------------------------------------

const engine = { rendering: null, viewport: null, toolGroup: null, layer: null };

async function initCornerstone() {
  await coreInit();
  loaderInit({ maxWebWorkers: Math.max(1, Math.min(4, navigator.hardwareConcurrency || 2)) });
  toolsInit();
  volumeLoader.registerVolumeLoader('cornerstoneStreamingImageVolume', cornerstoneStreamingImageVolumeLoader);
  for (const Tool of [WindowLevelTool, PanTool, ZoomTool, StackScrollTool, LengthTool, AngleTool, EllipticalROITool]) {
    addTool(Tool);
  }
  engine.rendering = new RenderingEngine('aimass');
}

// Bindings a tool keeps when another tool has the left button: pan on the middle button, zoom
// on the right, scrolling on the wheel. Measurements stay passive so they can be edited.
const RESTING = {
  pan: [{ mouseButton: MouseBindings.Auxiliary }],
  zoom: [{ mouseButton: MouseBindings.Secondary }],
};

function bindTools(group, primary) {
  for (const [key, name] of Object.entries(TOOLS)) {
    if (key === primary) {
      group.setToolActive(name, { bindings: [{ mouseButton: MouseBindings.Primary }, ...(RESTING[key] || [])] });
    } else if (RESTING[key]) {
      group.setToolActive(name, { bindings: RESTING[key] });
    } else {
      group.setToolPassive(name);
    }
  }
}

function makeToolGroup(id, viewportIds) {
  const group = ToolGroupManager.createToolGroup(id);
  for (const name of Object.values(TOOLS)) group.addTool(name);
  group.addTool(StackScrollTool.toolName);
  for (const viewportId of viewportIds) group.addViewport(viewportId, 'aimass');
  group.setToolActive(StackScrollTool.toolName, { bindings: [{ mouseButton: MouseBindings.Wheel }] });
  bindTools(group, state.primaryTool);
  return group;
}

function selectTool(name) {
  if (!TOOLS[name]) return;
  state.primaryTool = name;
  for (const group of [engine.toolGroup, engine.mprGroup]) if (group) bindTools(group, name);
  root.querySelectorAll('[data-tool]').forEach((button) => {
    button.setAttribute('aria-pressed', String(button.dataset.tool === name));
  });
}

// ---- Stack viewport ------------------------------------------------------------------------

function current() {
  return state.images[state.index] || null;
}

function updateOverlayText() {
  const viewport = engine.viewport;
  const properties = viewport && viewport.getProperties ? viewport.getProperties() : {};
  const voi = properties.voiRange;
  const study = state.data.study;
  text($('[data-testid="overlay-patient"]'), `${study.patient.name || ''}  ${study.patient.mrn || ''}`);
  text($('[data-testid="overlay-study"]'), `${study.date || ''}  ${study.description || ''}`);
  text($('[data-testid="overlay-slice"]'), `${T.image} ${state.index + 1} / ${state.images.length}`);
  if (voi) {
    const width = Math.round(voi.upper - voi.lower);
    const centre = Math.round((voi.upper + voi.lower) / 2);
    text($('[data-testid="overlay-wl"]'), `W ${width}  L ${centre}`);
  }
  const slider = $('[data-testid="slice-slider"]');
  slider.max = String(Math.max(0, state.images.length - 1));
  slider.value = String(state.index);
}

function redraw() {
  if (!engine.layer) return;
  engine.layer.draw(current());
  updateOverlayText();
}

async function setIndex(index) {
  if (!engine.viewport || !state.images.length) return;
  const clamped = Math.max(0, Math.min(state.images.length - 1, index));
  await engine.viewport.setImageIdIndex(clamped);
}

async function showSeries(series) {
  stopCine();
  if (state.mpr) await toggleMpr(false);
  state.series = series;
  state.loaded = 0;
  setStatus(T.loading);
  root.querySelectorAll('[data-series-uid]').forEach((card) => {
    card.setAttribute('aria-current', String(card.dataset.seriesUid === series.uid));
  });
  state.images = await seriesImages(state.data.dicomweb, state.data.study.uid, series);
  const ids = state.images.map((image) => image.imageId);
  const findings = state.data.findings.filter((f) => f.series_uid === series.uid);
  const target = findings.length ? firstIndexOf(findings[0]) : Math.floor(ids.length / 2);
  state.index = Math.max(0, target);
  await engine.viewport.setStack(ids, state.index);
  engine.viewport.render();
  engine.layer.setFindings(findings);
  panel.render(findings);
  streamTheRest(ids);
  for (const finding of findings) loadMask(finding);
}

// The first image shows as soon as it decodes; the rest stream in behind it, a few at a time.
async function streamTheRest(ids) {
  const queue = [...ids];
  const total = ids.length;
  const seriesUid = state.series.uid;
  let failed = 0;
  const worker = async () => {
    while (queue.length && state.series.uid === seriesUid) {
      const id = queue.shift();
      try {
        await imageLoader.loadAndCacheImage(id);
        state.loaded += 1;
      } catch (error) {
        failed += 1;
        console.warn('frame failed', id, error);
      }
      setStatus(`${T.loaded} ${state.loaded} / ${total}`);
    }
  };
  await Promise.all(Array.from({ length: 6 }, worker));
  if (state.series.uid !== seriesUid) return;
  if (failed) {
    // Said plainly, and no "all frames" mark: a frame that failed is not an image shown.
    root.dataset.framesFailed = String(failed);
    setStatus(`${T.loaded} ${state.loaded} / ${total} · ${T.failed} ${failed}`);
  } else {
    performance.mark('aimass:all-frames');
    root.dataset.allFrames = 'true';
  }
}

function firstIndexOf(finding) {
  const keys = new Set(finding.geometry.map((g) => `${g.sop_instance_uid}|${g.frame || 1}`));
  const hits = state.images.map((image, i) => (keys.has(`${image.sop}|${image.frame}`) ? i : -1)).filter((i) => i >= 0);
  if (!hits.length) return -1;
  return hits[Math.floor(hits.length / 2)];
}

async function loadMask(finding) {
  if (!finding.mask_url) return;
  try {
    const data = await getJSON(finding.mask_url);
    engine.layer.setMask(finding.id, data.frames);
    redraw();
  } catch (error) {
    console.warn('mask failed', finding.id, error);
  }
}

// ---- Cine, presets, reset, invert ------------------------------------------------------------

function stopCine() {
  if (state.cine) clearInterval(state.cine);
  state.cine = null;
  const button = $('[data-action="cine"]');
  if (button) button.setAttribute('aria-pressed', 'false');
}

function toggleCine() {
  if (state.cine) {
    stopCine();
    return;
  }
  const fps = Number($('[data-testid="cine-fps"]').value) || 10;
  state.cine = setInterval(() => setIndex((state.index + 1) % state.images.length), 1000 / fps);
  $('[data-action="cine"]').setAttribute('aria-pressed', 'true');
}

function applyPreset(name) {
  const preset = PRESETS[name];
  if (!preset) return;
  const [width, centre] = preset;
  const voiRange = { lower: centre - width / 2, upper: centre + width / 2 };
  for (const viewport of activeViewports()) {
    viewport.setProperties({ voiRange });
    viewport.render();
  }
}

function activeViewports() {
  if (state.mpr) return ['axial', 'sagittal', 'coronal'].map((id) => engine.rendering.getViewport(id));
  return [engine.viewport];
}

function reset() {
  for (const viewport of activeViewports()) {
    viewport.resetCamera();
    viewport.resetProperties && viewport.resetProperties();
    viewport.render();
  }
  state.inverted = false;
}

function invert() {
  state.inverted = !state.inverted;
  for (const viewport of activeViewports()) {
    viewport.setProperties({ invert: state.inverted });
    viewport.render();
  }
}

// ---- MPR -------------------------------------------------------------------------------------

async function toggleMpr(on = !state.mpr) {
  const stackElement = $('[data-testid="viewport"]');
  const mprElement = $('[data-testid="mpr"]');
  if (!on) {
    state.mpr = false;
    mprElement.hidden = true;
    stackElement.hidden = false;
    engine.rendering.resize(true);
    redraw();
    return;
  }
  if (!state.series || state.images.length < 3) return;
  state.mpr = true;
  stackElement.hidden = true;
  mprElement.hidden = false;
  const volumeId = `cornerstoneStreamingImageVolume:${state.series.uid}`;
  const orientations = { axial: 'AXIAL', sagittal: 'SAGITTAL', coronal: 'CORONAL' };
  if (!engine.mprReady) {
    engine.rendering.setViewports(
      Object.entries(orientations).map(([id, orientation]) => ({
        viewportId: id,
        type: Enums.ViewportType.ORTHOGRAPHIC,
        element: mprElement.querySelector(`[data-mpr="${id}"]`),
        defaultOptions: { orientation: Enums.OrientationAxis[orientation] },
      })),
    );
    engine.mprGroup = makeToolGroup('mpr', Object.keys(orientations));
    engine.mprReady = true;
  }
  let volume = cache.getVolume(volumeId);
  if (!volume) {
    volume = await volumeLoader.createAndCacheVolume(volumeId, {
      imageIds: state.images.map((image) => image.imageId),
    });
    volume.load();
  }
  await setVolumesForViewports(engine.rendering, [{ volumeId }], Object.keys(orientations));
  engine.rendering.renderViewports(Object.keys(orientations));
}

// ---- Page wiring -------------------------------------------------------------------------------

function wireControls() {
  root.addEventListener('click', (event) => {
    const button = event.target.closest('button');
    if (!button || !root.contains(button)) return;
    if (button.dataset.tool) selectTool(button.dataset.tool);
    if (button.dataset.preset) applyPreset(button.dataset.preset);
    const action = button.dataset.action;
    if (action === 'reset') reset();
    if (action === 'invert') invert();
    if (action === 'cine') toggleCine();
    if (action === 'mpr') toggleMpr();
    if (action === 'series') {
      const series = state.data.series.find((s) => s.uid === button.dataset.seriesUid);
      if (series) showSeries(series);
    }
  });
  $('[data-testid="slice-slider"]').addEventListener('input', (event) => setIndex(Number(event.target.value)));
  $('[data-testid="overlay-opacity"]').addEventListener('input', (event) => {
    engine.layer.opacity = Number(event.target.value) / 100;
    redraw();
  });
  $('[data-testid="overlay-contours"]').addEventListener('change', (event) => {
    engine.layer.showContours = event.target.checked;
    redraw();
  });
  document.addEventListener('keydown', (event) => {
    if (event.target.closest('input, textarea, select')) return;
    const keys = {
      ArrowUp: () => setIndex(state.index - 1),
      ArrowDown: () => setIndex(state.index + 1),
      PageUp: () => setIndex(state.index - 10),
      PageDown: () => setIndex(state.index + 10),
      Home: () => setIndex(0),
      End: () => setIndex(state.images.length - 1),
      w: () => selectTool('windowLevel'),
      p: () => selectTool('pan'),
      z: () => selectTool('zoom'),
      l: () => selectTool('length'),
      a: () => selectTool('angle'),
      e: () => selectTool('ellipse'),
      r: reset,
      i: invert,
      m: () => toggleMpr(),
      ' ': toggleCine,
      1: () => applyPreset('lung'),
      2: () => applyPreset('mediastinum'),
      3: () => applyPreset('bone'),
      4: () => applyPreset('brain'),
      5: () => applyPreset('abdomen'),
      n: () => panel.next(),
      '?': () => {
        const help = $('[data-testid="shortcuts"]');
        help.hidden = !help.hidden;
      },
    };
    const handler = keys[event.key];
    if (handler && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      handler();
    }
  });
}

function renderSeriesList() {
  const list = $('[data-testid="series-list"]');
  list.replaceChildren();
  for (const series of state.data.series) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'series-item';
    button.dataset.action = 'series';
    button.dataset.seriesUid = series.uid;
    const image = document.createElement('img');
    image.src = series.thumbnail;
    image.alt = '';
    image.loading = 'lazy';
    const caption = document.createElement('span');
    caption.textContent = `${series.modality || ''} #${series.number ?? ''} ${series.description || ''} (${series.instances.length})`;
    button.append(image, caption);
    list.append(button);
  }
}

function wireViewport(element) {
  element.addEventListener(Enums.Events.STACK_NEW_IMAGE, (event) => {
    state.index = event.detail.imageIdIndex;
  });
  element.addEventListener(Enums.Events.IMAGE_RENDERED, () => {
    if (!state.firstRendered) {
      state.firstRendered = true;
      performance.mark('aimass:first-image');
      root.dataset.firstImage = 'true';
      resolveReady();
    }
    state.index = engine.viewport.getCurrentImageIdIndex();
    root.dataset.index = String(state.index);
    redraw();
  });
  new ResizeObserver(() => {
    engine.rendering.resize(true, true);
    redraw();
  }).observe(element);
}

let panel;

async function main() {
  try {
    state.data = await getJSON(root.dataset.dataUrl);
  } catch (error) {
    setStatus(T.load_failed);
    return;
  }
  await initCornerstone();
  const element = $('[data-testid="viewport"]');
  engine.rendering.enableElement({ viewportId: 'stack', type: Enums.ViewportType.STACK, element });
  engine.viewport = engine.rendering.getViewport('stack');
  engine.toolGroup = makeToolGroup('stack', ['stack']);
  engine.layer = new OverlayLayer(element, engine.viewport);
  engine.layer.onNeedsRedraw = redraw;
  panel = new ReviewPanel({
    root,
    T,
    data: state.data,
    layer: engine.layer,
    canReview: root.dataset.mayReview === 'true',
    jump: (finding) => {
      const index = firstIndexOf(finding);
      if (index >= 0) setIndex(index);
    },
    current,
    redraw,
    editorFor: (finding) =>
      new FindingEditor(
        engine.layer,
        finding,
        engine.layer.masks.get(finding.id) ||
          new Map(finding.geometry.map((g) => [`${g.sop_instance_uid}|${g.frame || 1}`, frameMask(g)])),
        labelColour(finding.label, engine.layer.labels),
      ),
    encodeRuns,
    postJSON,
    ApiError,
    loadMask,
    imageSize: () => {
      const image = engine.viewport.getImageData && engine.viewport.getImageData();
      return image ? [image.dimensions[0], image.dimensions[1]] : [0, 0];
    },
    series: () => state.series,
  });
  wireViewport(element);
  wireControls();
  renderSeriesList();
  const withFindings = state.data.series.find((s) => state.data.findings.some((f) => f.series_uid === s.uid));
  const first = withFindings || state.data.series[0];
  if (first) await showSeries(first);
  else setStatus(T.no_images);
}

// Hooks for tests and the benchmark: where an image pixel is on the page, and the state.
window.aimassViewer = {
  ready,
  state,
  setIndex,
  imageToPage(column, row) {
    const [x, y] = engine.layer.imageToCanvas(column, row);
    const box = $('[data-testid="viewport"]').getBoundingClientRect();
    return [box.left + x, box.top + y];
  },
  redraw,
  // Measurements drawn so far: tool name and Cornerstone's cached statistics per image.
  measurements() {
    return annotation.state.getAllAnnotations().map((a) => ({
      tool: a.metadata.toolName,
      stats: Object.values(a.data.cachedStats || {}),
    }));
  },
};

main();
