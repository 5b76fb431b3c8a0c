// The review panel: the findings list (label, score, size, model and version, verdict), toggles,
// accept / reject with a reason / correct (box or brush) / add a missed finding, and sign-off.
// Every change is saved at once; the server's answer replaces the finding in the list.

import { labelColour } from './overlays.js';

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === 'text') node.textContent = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

function size(finding) {
  if (finding.diameter_mm != null) return `${finding.diameter_mm.toFixed(1)} mm`;
  return '';
}

export class ReviewPanel {
  constructor(options) {
    Object.assign(this, options);
    this.list = this.root.querySelector('[data-testid="findings-list"]');
    this.error = this.root.querySelector('[data-testid="review-error"]');
    this.rejectForm = this.root.querySelector('[data-testid="reject-form"]');
    this.editBar = this.root.querySelector('[data-testid="edit-bar"]');
    this.addForm = this.root.querySelector('[data-testid="add-form"]');
    this.signForm = this.root.querySelector('[data-testid="sign-form"]');
    this.findings = [];
    this.cursor = -1;
    this.adding = false;
    this.wire();
  }

  showError(message) {
    this.error.textContent = message || '';
    this.error.hidden = !message;
  }

  render(findings) {
    this.findings = findings;
    this.list.replaceChildren(...findings.map((f) => this.item(f)));
    this.renderModelToggles();
    const pending = this.data.findings.filter((f) => f.status === 'pending').length;
    const counter = this.root.querySelector('[data-testid="pending-count"]');
    if (counter) counter.textContent = String(pending);
  }

  renderModelToggles() {
    const box = this.root.querySelector('[data-testid="model-toggles"]');
    if (!box) return;
    const models = [...new Set(this.findings.map((f) => f.model || 'reader'))];
    box.replaceChildren(
      ...models.map((model) => {
        const input = el('input', { type: 'checkbox', dataset: { model } });
        input.checked = !this.layer.hiddenModels.has(model);
        const version = this.findings.find((f) => (f.model || 'reader') === model);
        const name = model === 'reader' ? this.T.reader : `${model} ${version.version || ''}`;
        return el('label', { class: 'toggle' }, input, ` ${name}`);
      }),
    );
  }

  item(finding) {
    const li = el('li', {
      class: `finding finding-${finding.status}`,
      dataset: { findingId: String(finding.id), testid: 'finding', status: finding.status },
    });
    const toggle = el('input', { type: 'checkbox', title: this.T.show, dataset: { toggle: String(finding.id) } });
    toggle.checked = !this.layer.hidden.has(finding.id);
    const swatch = el('span', { class: 'swatch' });
    const colour = labelColour(finding.label, this.layer.labels);
    swatch.style.background = `rgb(${colour.join(',')})`;
    const title = el('button', { type: 'button', class: 'finding-title', dataset: { jump: String(finding.id) } },
      el('strong', { text: finding.label }),
      finding.urgent ? el('span', { class: 'tag tag-urgent', text: this.T.urgent }) : '',
    );
    const facts = [];
    if (finding.score != null) facts.push(`${this.T.score} ${finding.score.toFixed(2)}`);
    if (size(finding)) facts.push(size(finding));
    if (finding.volume_mm3 != null) facts.push(`${Math.round(finding.volume_mm3)} mm³`);
    facts.push(finding.model ? `${finding.model} ${finding.version}` : this.T.reader);
    const details = el('div', { class: 'muted', text: facts.join(' · ') });
    let statusText = finding.status_display;
    if (finding.note === 'reviewed' && this.data.signed && finding.reviewed_by) {
      statusText = `${this.T.reviewed_by} ${finding.reviewed_by}`;
    } else if (finding.status === 'pending') {
      statusText = this.T.pending;
    }
    const status = el('div', { class: 'finding-status', dataset: { testid: 'finding-status' }, text: statusText });
    li.append(el('div', { class: 'finding-head' }, toggle, swatch, title), details, status);
    if (this.canReview && finding.kind !== 'heatmap') {
      const actions = el('div', { class: 'finding-actions' });
      if (finding.source === 'ai') {
        actions.append(
          el('button', { type: 'button', dataset: { verdict: 'accepted', id: String(finding.id) }, text: this.T.accept }),
          el('button', { type: 'button', dataset: { verdict: 'rejected', id: String(finding.id) }, text: this.T.reject }),
        );
      }
      if (finding.series_uid) {
        actions.append(el('button', { type: 'button', dataset: { verdict: 'edit', id: String(finding.id) }, text: this.T.correct }));
      }
      li.append(actions);
    }
    return li;
  }

  byId(id) {
    return this.findings.find((f) => String(f.id) === String(id));
  }

  replace(updated) {
    const index = this.data.findings.findIndex((f) => f.id === updated.id);
    if (index >= 0) this.data.findings[index] = updated;
    else this.data.findings.push(updated);
    const shown = this.data.findings.filter((f) => f.series_uid === this.series().uid);
    this.layer.setFindings(shown);
    this.render(shown);
    this.redraw();
  }

  next() {
    if (!this.findings.length) return;
    this.cursor = (this.cursor + 1) % this.findings.length;
    this.select(this.findings[this.cursor]);
  }

  select(finding) {
    this.layer.selected = finding.id;
    this.list.querySelectorAll('[data-finding-id]').forEach((li) => {
      li.classList.toggle('selected', li.dataset.findingId === String(finding.id));
    });
    this.jump(finding);
    this.redraw();
  }

  async verdict(finding, body) {
    this.showError('');
    try {
      const answer = await this.postJSON(`/findings/${finding.id}/review/`, body);
      this.replace(answer.finding);
      return true;
    } catch (error) {
      this.showError(error.message);
      return false;
    }
  }

  // ---- Reject ---------------------------------------------------------------------------

  openReject(finding) {
    this.rejecting = finding;
    this.rejectForm.hidden = false;
    this.rejectForm.querySelector('[data-testid="reject-label"]').textContent = finding.label;
    this.rejectForm.querySelector('select').focus();
  }

  // ---- Correct / add ----------------------------------------------------------------------

  startEdit(finding) {
    this.cancelEdit();
    this.select(finding);
    this.layer.editor = this.editorFor(finding);
    this.editBar.hidden = false;
    this.editBar.querySelector('[data-testid="edit-label"]').textContent = finding.label;
    this.layer.canvas.classList.add('editing');
    this.setMode('box');
    this.redraw();
  }

  startAdd() {
    this.cancelEdit();
    this.adding = true;
    this.addForm.hidden = false;
    this.layer.canvas.classList.add('editing');
    this.showError('');
  }

  setMode(mode) {
    if (!this.layer.editor) return;
    this.layer.editor.mode = mode;
    this.editBar.querySelectorAll('[data-mode]').forEach((b) => b.setAttribute('aria-pressed', String(b.dataset.mode === mode)));
  }

  cancelEdit() {
    this.layer.editor = null;
    this.adding = false;
    this.editBar.hidden = true;
    this.addForm.hidden = true;
    this.layer.canvas.classList.remove('editing');
    this.redraw();
  }

  async saveEdit() {
    const editor = this.layer.editor;
    if (!editor) return;
    const geometry = editor.geometry(this.encodeRuns);
    if (!geometry.length) {
      this.showError(this.T.empty_geometry);
      return;
    }
    if (editor.finding.id === 'new') {
      const label = this.addForm.querySelector('input[name="label"]').value.trim();
      try {
        const answer = await this.postJSON(this.root.dataset.addUrl, {
          series_uid: this.series().uid,
          label,
          geometry,
          comment: this.addForm.querySelector('textarea').value,
        });
        this.cancelEdit();
        this.replace(answer.finding);
        this.loadMask(answer.finding);
      } catch (error) {
        this.showError(error.message);
      }
      return;
    }
    const ok = await this.verdict(editor.finding, {
      verdict: 'edited',
      geometry,
      comment: this.editBar.querySelector('textarea').value,
    });
    if (ok) {
      const finding = this.byId(editor.finding.id);
      this.cancelEdit();
      if (finding) this.loadMask(finding);
    }
  }

  // Pointer on the overlay while correcting or adding: image coordinates from the layer's
  // transform, so edits land on the pixels under the pointer.
  pointer(event, phase) {
    const current = this.current();
    if (!current) return;
    const rect = this.layer.canvas.getBoundingClientRect();
    const [x, y] = this.layer.canvasToImage(event.clientX - rect.left, event.clientY - rect.top);
    const key = `${current.sop}|${current.frame}`;
    const imageSize = this.imageSize();
    if (this.adding && phase === 'down') {
      const finding = { id: 'new', label: '', kind: 'detection', geometry: [] };
      const start = [Math.floor(x), Math.floor(y)];
      this.layer.editor = this.editorFor(finding);
      this.layer.editor.frames.set(key, { bbox: [start[0], start[1], start[0], start[1]], bits: new Uint8Array(1).fill(1), hasMask: false });
      this.layer.editor.drag = { kind: 'resize', corner: { left: false, top: false }, start: [x, y], box: [start[0], start[1], start[0], start[1]] };
      this.adding = false;
      this.editBar.hidden = false;
      this.editBar.querySelector('[data-testid="edit-label"]').textContent = this.T.new_finding;
      this.setMode('box');
      event.preventDefault();
      return;
    }
    const editor = this.layer.editor;
    if (!editor) return;
    if (phase === 'down') {
      if (editor.pointerDown(key, x, y, imageSize)) {
        this.layer.canvas.setPointerCapture(event.pointerId);
        event.preventDefault();
      }
    } else if (phase === 'move') {
      editor.pointerMove(key, x, y, imageSize);
    } else {
      editor.pointerUp();
    }
    this.redraw();
  }

  // ---- Wiring -------------------------------------------------------------------------------

  wire() {
    this.list.addEventListener('click', (event) => {
      const jump = event.target.closest('[data-jump]');
      if (jump) this.select(this.byId(jump.dataset.jump));
      const button = event.target.closest('[data-verdict]');
      if (!button) return;
      const finding = this.byId(button.dataset.id);
      if (button.dataset.verdict === 'accepted') this.verdict(finding, { verdict: 'accepted' });
      if (button.dataset.verdict === 'rejected') this.openReject(finding);
      if (button.dataset.verdict === 'edit') this.startEdit(finding);
    });
    this.list.addEventListener('change', (event) => {
      const id = event.target.dataset.toggle;
      if (!id) return;
      if (event.target.checked) this.layer.hidden.delete(Number(id));
      else this.layer.hidden.add(Number(id));
      this.redraw();
    });
    const toggles = this.root.querySelector('[data-testid="model-toggles"]');
    toggles.addEventListener('change', (event) => {
      const model = event.target.dataset.model;
      if (event.target.checked) this.layer.hiddenModels.delete(model);
      else this.layer.hiddenModels.add(model);
      this.redraw();
    });
    this.rejectForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      const form = new FormData(this.rejectForm);
      const ok = await this.verdict(this.rejecting, {
        verdict: 'rejected',
        reason: form.get('reason'),
        comment: form.get('comment'),
      });
      if (ok) {
        this.rejectForm.hidden = true;
        this.rejectForm.reset();
      }
    });
    this.rejectForm.querySelector('[data-action="cancel-reject"]').addEventListener('click', () => {
      this.rejectForm.hidden = true;
    });
    this.editBar.addEventListener('click', (event) => {
      const button = event.target.closest('button');
      if (!button) return;
      if (button.dataset.mode) this.setMode(button.dataset.mode);
      if (button.dataset.action === 'save-edit') this.saveEdit();
      if (button.dataset.action === 'cancel-edit') this.cancelEdit();
    });
    this.editBar.querySelector('input[name="radius"]').addEventListener('input', (event) => {
      if (this.layer.editor) this.layer.editor.radius = Number(event.target.value);
    });
    this.addForm.querySelector('[data-action="cancel-add"]').addEventListener('click', () => this.cancelEdit());
    const addButton = this.root.querySelector('[data-action="add-finding"]');
    if (addButton) addButton.addEventListener('click', () => this.startAdd());
    const canvas = this.layer.canvas;
    canvas.addEventListener('pointerdown', (event) => this.pointer(event, 'down'));
    canvas.addEventListener('pointermove', (event) => {
      if (this.layer.editor && this.layer.editor.drag) this.pointer(event, 'move');
    });
    canvas.addEventListener('pointerup', (event) => this.pointer(event, 'up'));
    if (this.signForm) {
      this.signForm.addEventListener('submit', async (event) => {
        event.preventDefault();
        this.showError('');
        try {
          const answer = await this.postJSON(this.signForm.dataset.url, {
            impression: new FormData(this.signForm).get('impression'),
          });
          window.location.assign(answer.report);
        } catch (error) {
          this.showError(error.message);
        }
      });
    }
  }
}
