// Talking to the server: the viewer's study data, DICOMweb metadata, review actions.
// Everything goes out with the user's session cookie; writes carry the CSRF token.
import { wadors } from '@cornerstonejs/dicom-image-loader';

export class ApiError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : '';
}

export async function getJSON(url) {
  const response = await fetch(url, {
    credentials: 'same-origin',
    headers: { Accept: 'application/json' },
  });
  if (!response.ok) throw new ApiError(`http_${response.status}`, response.statusText);
  return response.json();
}

export async function postJSON(url, body) {
  const response = await fetch(url, {
    method: 'POST',
    credentials: 'same-origin',
    headers: {
      'Content-Type': 'application/json',
      Accept: 'application/json',
      'X-CSRFToken': csrfToken(),
    },
    body: JSON.stringify(body),
  });
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new ApiError(error.code || `http_${response.status}`, error.message || response.statusText);
  }
  return data;
}

// One imageId per frame, in the server's slice order, each with its DICOM JSON metadata
// registered for the WADO-RS loader. Returns [{imageId, sop, frame}].
export async function seriesImages(root, studyUid, series) {
  const base = `${location.origin}${root}/studies/${studyUid}/series/${series.uid}`;
  const metadata = await getJSON(`${base}/metadata`);
  const bySop = new Map();
  for (const instance of metadata) {
    const sop = instance['00080018'] && instance['00080018'].Value && instance['00080018'].Value[0];
    if (sop) bySop.set(sop, instance);
  }
  const images = [];
  for (const instance of series.instances) {
    const meta = bySop.get(instance.sop);
    if (!meta) continue;
    for (let frame = 1; frame <= instance.frames; frame += 1) {
      const imageId = `wadors:${base}/instances/${instance.sop}/frames/${frame}`;
      wadors.metaDataManager.add(imageId, meta);
      images.push({ imageId, sop: instance.sop, frame });
    }
  }
  return images;
}

// Run-length masks (outside/inside runs, row by row, inside the box) to a byte per pixel.
export function decodeRuns(runs, size) {
  const bits = new Uint8Array(size);
  let position = 0;
  let inside = 0;
  for (const run of runs) {
    if (inside) bits.fill(1, position, position + run);
    position += run;
    inside ^= 1;
  }
  return bits;
}

export function encodeRuns(bits) {
  const runs = [];
  let current = 0;
  let length = 0;
  for (const bit of bits) {
    const value = bit ? 1 : 0;
    if (value === current) {
      length += 1;
    } else {
      runs.push(length);
      current = value;
      length = 1;
    }
  }
  runs.push(length);
  return runs;
}
