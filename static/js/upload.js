// The study upload page: files, folders or zips are dropped or picked, then sent one per
// request to the upload endpoint, a few at a time; each answer adds rows to the results table.
// Every word shown comes translated from the page (#upload-text).
(function () {
  "use strict";

  var root = document.getElementById("upload");
  if (!root) return;
  var text = JSON.parse(document.getElementById("upload-text").textContent);
  var endpoint = root.dataset.endpoint;
  var maxBytes = Number(root.dataset.maxBytes);
  var csrfToken = root.querySelector("input[name=csrfmiddlewaretoken]").value;
  var CONCURRENT = 3;

  var dropzone = root.querySelector(".dropzone");
  var progressCard = root.querySelector("[data-testid=progress]");
  var progressBar = progressCard.querySelector("progress");
  var filesLabel = progressCard.querySelector("[data-role=files]");
  var bytesLabel = progressCard.querySelector("[data-role=bytes]");
  var summaryLabel = progressCard.querySelector("[data-role=summary]");
  var resultsCard = root.querySelector("[data-testid=results]");
  var resultsBody = root.querySelector("[data-role=results]");
  var studiesCard = root.querySelector("[data-testid=studies]");
  var studiesList = root.querySelector("[data-role=studies]");

  var queue = [];
  var running = 0;
  var total = 0;
  var done = 0;
  var bytesTotal = 0;
  var bytesFinished = 0;
  var inFlight = {}; // id -> bytes sent so far
  var nextId = 0;
  var counts = { stored: 0, duplicate: 0, conflict: 0, failed: 0 };
  var studiesShown = {};

  function format(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_, key) { return values[key]; });
  }

  function humanBytes(n) {
    var units = ["B", "KB", "MB", "GB", "TB"];
    var i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
    return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
  }

  function skipped(path) {
    var parts = path.split("/");
    return parts.indexOf("__MACOSX") !== -1 || parts[parts.length - 1] === ".DS_Store";
  }

  function showProgress() {
    var sent = bytesFinished;
    Object.keys(inFlight).forEach(function (id) { sent += inFlight[id]; });
    progressCard.hidden = false;
    progressBar.max = Math.max(bytesTotal, 1);
    progressBar.value = Math.min(sent, bytesTotal);
    filesLabel.textContent = format(text.filesDone, { done: done, total: total });
    bytesLabel.textContent = format(text.bytesDone, {
      done: humanBytes(Math.min(sent, bytesTotal)), total: humanBytes(bytesTotal),
    });
    var parts = ["stored", "duplicate", "conflict", "failed"].map(function (s) {
      return text[s] + " " + counts[s];
    });
    if (done === total && running === 0) parts.push(text.allDone);
    summaryLabel.textContent = parts.join(" · ");
  }

  function cell(row, content) {
    var td = document.createElement("td");
    if (content instanceof Node) td.appendChild(content); else td.textContent = content || "";
    row.appendChild(td);
    return td;
  }

  function studyLink(result) {
    if (!result.study_url) return "";
    var a = document.createElement("a");
    a.href = result.study_url;
    a.textContent = text.openStudy;
    return a;
  }

  function addResult(name, result) {
    var status = counts.hasOwnProperty(result.status) ? result.status : "failed";
    counts[status] += 1;
    var row = document.createElement("tr");
    row.dataset.status = status;
    cell(row, name);
    var statusCell = cell(row, text[status]);
    statusCell.className = "status-" + status;
    var reason = [result.code, result.message].filter(Boolean).join(": ");
    cell(row, reason);
    cell(row, studyLink(result));
    resultsBody.appendChild(row);
    resultsCard.hidden = false;
    if (result.study_url && !studiesShown[result.study_url]) {
      studiesShown[result.study_url] = true;
      var li = document.createElement("li");
      var a = studyLink(result);
      a.textContent = text.openStudy + " · " + result.study_uid;
      li.appendChild(a);
      studiesList.appendChild(li);
      studiesCard.hidden = false;
    }
  }

  function finish(item, results) {
    delete inFlight[item.id];
    bytesFinished += item.file.size;
    done += 1;
    running -= 1;
    results.forEach(function (result) {
      // A zip answers per member; a plain file keeps the path it had on this computer.
      var name = result.name === item.file.name ? item.path : item.path + " › " + result.name;
      addResult(name, result);
    });
    showProgress();
    pump();
  }

  function failure(code, message) {
    return [{ status: "failed", code: code, message: message }];
  }

  function send(item) {
    running += 1;
    if (item.file.size > maxBytes) {
      finish(item, failure("too_large", text.tooLarge));
      return;
    }
    inFlight[item.id] = 0;
    var form = new FormData();
    form.append("file", item.file, item.file.name);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", endpoint);
    xhr.setRequestHeader("X-CSRFToken", csrfToken);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = function (event) {
      inFlight[item.id] = event.loaded * (item.file.size / Math.max(event.total, 1));
      showProgress();
    };
    xhr.onload = function () {
      var body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
      if (xhr.status === 200 && body && Array.isArray(body.results)) {
        finish(item, body.results);
      } else {
        finish(item, failure("http_" + xhr.status, format(text.serverError, { status: xhr.status })));
      }
    };
    xhr.onerror = xhr.onabort = function () {
      finish(item, failure("network", text.networkError));
    };
    xhr.send(form);
  }

  function pump() {
    while (running < CONCURRENT && queue.length) send(queue.shift());
  }

  function enqueue(entries) {
    entries.forEach(function (entry) {
      if (skipped(entry.path)) return;
      nextId += 1;
      queue.push({ id: nextId, file: entry.file, path: entry.path });
      total += 1;
      bytesTotal += entry.file.size;
    });
    showProgress();
    pump();
  }

  function fromFileList(list) {
    return Array.prototype.map.call(list, function (file) {
      return { file: file, path: file.webkitRelativePath || file.name };
    });
  }

  // Dropped folders arrive as FileSystemEntry trees; readEntries answers in batches.
  function walk(entry, out) {
    return new Promise(function (resolve) {
      if (entry.isFile) {
        entry.file(function (file) {
          out.push({ file: file, path: entry.fullPath.replace(/^\//, "") });
          resolve();
        }, function () { resolve(); });
      } else if (entry.isDirectory) {
        var reader = entry.createReader();
        var children = [];
        (function readBatch() {
          reader.readEntries(function (batch) {
            if (!batch.length) {
              Promise.all(children.map(function (c) { return walk(c, out); })).then(resolve);
              return;
            }
            children = children.concat(Array.prototype.slice.call(batch));
            readBatch();
          }, function () { resolve(); });
        })();
      } else {
        resolve();
      }
    });
  }

  function onDrop(event) {
    event.preventDefault();
    dropzone.classList.remove("over");
    var items = event.dataTransfer.items;
    var entries = [];
    if (items && items.length && items[0].webkitGetAsEntry) {
      Array.prototype.forEach.call(items, function (item) {
        var entry = item.kind === "file" && item.webkitGetAsEntry();
        if (entry) entries.push(entry);
      });
    }
    if (!entries.length) {
      enqueue(fromFileList(event.dataTransfer.files));
      return;
    }
    var out = [];
    Promise.all(entries.map(function (e) { return walk(e, out); })).then(function () {
      enqueue(out);
    });
  }

  ["dragenter", "dragover"].forEach(function (name) {
    dropzone.addEventListener(name, function (event) {
      event.preventDefault();
      dropzone.classList.add("over");
    });
  });
  dropzone.addEventListener("dragleave", function () { dropzone.classList.remove("over"); });
  dropzone.addEventListener("drop", onDrop);
  root.querySelectorAll("input[type=file]").forEach(function (input) {
    input.addEventListener("change", function () {
      enqueue(fromFileList(input.files));
      input.value = "";
    });
  });
})();
