// media_app pages, on top of forms that work without JavaScript:
// upload: drag-and-drop, previews, a progress bar while the bytes go up, errors in place; the
//   previews are kept (sessionStorage) so the uploader sees its own picture while it is processed;
// detail and gallery: live state through window.backroomPoll (core/app.js), ThumbHash
//   placeholders (thumbhash.js) under pictures until they load, the focal point picker.
// Nothing here needs an inline script or style: the CSP allows only our files (and blob: images).
(function () {
  "use strict";

  // --- placeholders --------------------------------------------------------------------------
  // A blurred canvas under the picture until it has loaded (then removed: transparent pictures
  // must not show it through).
  function placeholder(holder) {
    const img = holder.querySelector("img");
    if (!holder.dataset.thumbhash || !img || !window.backroomThumbHash) return;
    if (img.complete && img.naturalWidth) return;
    let blur;
    try { blur = window.backroomThumbHash.canvas(holder.dataset.thumbhash); } catch (e) { return; }
    blur.className = "media-blur";
    blur.setAttribute("aria-hidden", "true");
    holder.prepend(blur);
    const done = () => blur.remove();
    img.addEventListener("load", done, { once: true });
    img.addEventListener("error", done, { once: true });
  }
  document.querySelectorAll("[data-thumbhash]").forEach(placeholder);

  // --- the uploader's own previews -------------------------------------------------------------
  const PREVIEW_KEY = "backroom:preview:";
  const PREVIEW_SIDE = 480;

  // A small JPEG of a picture the browser can decode, as a data: URL (stored, never shown as one).
  async function smallPreview(file) {
    if (!window.createImageBitmap || !/^image\/(jpeg|png|webp|gif|avif|bmp)$/.test(file.type)) return null;
    try {
      const bitmap = await createImageBitmap(file);
      const scale = Math.min(1, PREVIEW_SIDE / Math.max(bitmap.width, bitmap.height));
      const c = document.createElement("canvas");
      c.width = Math.max(1, Math.round(bitmap.width * scale));
      c.height = Math.max(1, Math.round(bitmap.height * scale));
      c.getContext("2d").drawImage(bitmap, 0, 0, c.width, c.height);
      bitmap.close();
      return c.toDataURL("image/jpeg", 0.7);
    } catch (e) { return null; }
  }

  // Back to a blob: URL to show it (img-src allows blob:, not data:).
  function previewUrl(id) {
    let stored = null;
    try { stored = window.sessionStorage.getItem(PREVIEW_KEY + id); } catch (e) { return null; }
    if (!stored) return null;
    const bytes = window.backroomThumbHash.fromBase64(stored.slice(stored.indexOf(",") + 1));
    return URL.createObjectURL(new Blob([bytes], { type: "image/jpeg" }));
  }

  document.querySelectorAll("[data-local-preview]").forEach((box) => {
    const url = window.backroomThumbHash && previewUrl(box.dataset.localPreview);
    if (!url) return;
    let img = box.querySelector("img");
    if (!img) {
      img = document.createElement("img");
      img.alt = "";
      box.replaceChildren(img);
    }
    img.src = url;
    box.hidden = false;
  });
  document.querySelectorAll("[data-forget-preview]").forEach((el) => {
    try { window.sessionStorage.removeItem(PREVIEW_KEY + el.dataset.forgetPreview); } catch (e) { /* none kept */ }
  });

  function humanBytes(n) {
    if (n < 1024) return n + " B";
    if (n < 1048576) return (n / 1024).toFixed(0) + " KB";
    return (n / 1048576).toFixed(1) + " MB";
  }

  // --- upload --------------------------------------------------------------------------------
  // The files to send are this page's own list (picked, dropped or pasted; each can be removed),
  // checked for type and size before anything is sent, sent in one request (one batch) whose
  // progress is shared out per file in the order the body carries them. The input's own files
  // follow the list, so the plain form would send the same.
  const form = document.getElementById("upload-form");
  if (form) {
    const input = form.querySelector("input[type=file]");
    const zone = document.getElementById("dropzone");
    const previews = document.getElementById("previews");
    const bar = document.getElementById("upload-progress");
    const errors = document.getElementById("upload-errors");
    const submit = form.querySelector("button[type=submit]");
    const cancel = document.getElementById("upload-cancel");
    const summary = document.getElementById("upload-summary");
    const maxBytes = parseInt(form.dataset.maxBytes, 10);
    const maxFiles = parseInt(form.dataset.maxFiles, 10);
    form.querySelector(".drop-hint").hidden = false;
    zone.classList.add("clickable");

    let chosen = []; // {file, li, bar, note, preview}
    let xhr = null;

    function showErrors(list) {
      errors.replaceChildren();
      for (const text of list) {
        const li = document.createElement("li");
        li.textContent = text;
        errors.append(li);
      }
      errors.hidden = list.length === 0;
    }

    function isPicture(file) {
      return /^image\//.test(file.type) || /\.(heic|heif|avif)$/i.test(file.name);
    }

    function syncInput() {
      if (!window.DataTransfer) return;
      const dt = new DataTransfer();
      chosen.forEach((c) => dt.items.add(c.file));
      input.files = dt.files;
      const bytes = chosen.reduce((n, c) => n + c.file.size, 0);
      summary.textContent = chosen.length ? (chosen.length === 1 ? "1 picture" : chosen.length + " pictures") + " · " + humanBytes(bytes) : "";
      submit.disabled = chosen.length === 0 || xhr !== null;
    }

    function addFiles(files) {
      const refused = [];
      for (const file of files) {
        if (!isPicture(file)) { refused.push(file.name + ": " + form.dataset.notPicture); continue; }
        if (file.size === 0) { refused.push(file.name + ": the file is empty."); continue; }
        if (file.size > maxBytes) { refused.push(file.name + ": this file is larger than the " + humanBytes(maxBytes) + " limit."); continue; }
        if (chosen.length >= maxFiles) { refused.push(file.name + ": at most " + maxFiles + " pictures at once."); continue; }
        const li = document.createElement("li");
        if (/^image\/(jpeg|png|webp|gif|avif|bmp)$/.test(file.type)) {
          const img = document.createElement("img");
          img.alt = "";
          img.src = URL.createObjectURL(file);
          img.onload = () => URL.revokeObjectURL(img.src);
          li.append(img);
        } else {
          const box = document.createElement("div");
          box.className = "noimg";
          box.textContent = (file.name.split(".").pop() || "?").toUpperCase();
          li.append(box);
        }
        const label = document.createElement("div");
        label.className = "name";
        label.textContent = file.name + " · " + humanBytes(file.size);
        const progress = document.createElement("progress");
        progress.max = 100; progress.value = 0; progress.hidden = true;
        progress.setAttribute("aria-label", "Upload of " + file.name);
        const note = document.createElement("div");
        note.className = "muted note";
        const remove = document.createElement("button");
        remove.type = "button"; remove.className = "secondary small remove";
        remove.textContent = "Remove";
        remove.setAttribute("aria-label", "Remove " + file.name);
        const entry = { file: file, li: li, bar: progress, note: note, preview: smallPreview(file) };
        remove.addEventListener("click", () => {
          chosen = chosen.filter((c) => c !== entry);
          li.remove();
          syncInput();
        });
        li.append(label, progress, note, remove);
        previews.append(li);
        chosen.push(entry);
      }
      showErrors(refused);
      syncInput();
    }

    input.addEventListener("change", () => {
      const files = Array.from(input.files);
      addFiles(files);
    });
    // The whole zone opens the picker (the label and the input already do by themselves).
    zone.addEventListener("click", (e) => {
      if (xhr || e.target === input || e.target.closest("label")) return;
      input.click();
    });
    ["dragenter", "dragover"].forEach((t) => zone.addEventListener(t, (e) => {
      e.preventDefault(); zone.classList.add("dragging");
    }));
    ["dragleave", "drop"].forEach((t) => zone.addEventListener(t, (e) => {
      e.preventDefault(); zone.classList.remove("dragging");
    }));
    zone.addEventListener("drop", (e) => {
      if (!xhr && e.dataTransfer && e.dataTransfer.files.length) addFiles(Array.from(e.dataTransfer.files));
    });
    document.addEventListener("paste", (e) => {
      const files = Array.from((e.clipboardData && e.clipboardData.files) || []);
      if (xhr || !files.length) return;
      e.preventDefault();
      addFiles(files.map((f, i) => f.name && f.name !== "image.png" ? f
        : new File([f], "pasted-" + (i + 1) + "." + (f.type.split("/")[1] || "png"), { type: f.type })));
    });

    function timeLeft(seconds) {
      if (!isFinite(seconds)) return "";
      if (seconds < 60) return Math.max(1, Math.round(seconds)) + " s left";
      return Math.round(seconds / 60) + " min left";
    }

    function finishSending() {
      xhr = null;
      cancel.hidden = true;
      bar.hidden = true;
      chosen.forEach((c) => { c.bar.hidden = true; c.note.textContent = ""; });
      form.classList.remove("sending");
      syncInput();
    }

    cancel.addEventListener("click", () => { if (xhr) xhr.abort(); });

    form.addEventListener("submit", (e) => {
      if (!window.FormData || !window.XMLHttpRequest) return; // the plain form still works
      e.preventDefault();
      if (xhr) return;
      if (!chosen.length) { showErrors(["Choose a picture to upload."]); return; }
      const body = new FormData();
      body.append("csrfmiddlewaretoken", form.querySelector("input[name=csrfmiddlewaretoken]").value);
      body.append("title", form.querySelector("input[name=title]").value);
      chosen.forEach((c) => body.append("image", c.file, c.file.name));
      const sending = chosen.slice();
      const total = sending.reduce((n, c) => n + c.file.size, 0);
      const started = Date.now();
      xhr = new XMLHttpRequest();
      xhr.open("POST", form.action || window.location.href);
      xhr.setRequestHeader("Accept", "application/json");
      form.classList.add("sending");
      submit.disabled = true;
      cancel.hidden = false;
      bar.hidden = false; bar.value = 0;
      sending.forEach((c) => { c.bar.hidden = false; c.bar.value = 0; });
      xhr.upload.onprogress = (ev) => {
        if (!ev.lengthComputable) return;
        bar.value = (100 * ev.loaded) / ev.total;
        // The body is the files in order plus a little multipart framing: share it out by size.
        let sent = ev.loaded * (total / ev.total);
        const rate = ev.loaded / Math.max(0.001, (Date.now() - started) / 1000);
        for (const c of sending) {
          const mine = Math.max(0, Math.min(c.file.size, sent));
          sent -= c.file.size;
          const pct = c.file.size ? Math.round((100 * mine) / c.file.size) : 100;
          c.bar.value = pct;
          c.note.textContent = pct >= 100 ? "Sent" : pct + "% · " + humanBytes(mine) + " of " + humanBytes(c.file.size) +
            (mine > 0 ? " · " + timeLeft((ev.total - ev.loaded) / rate) : "");
        }
      };
      xhr.onload = async () => {
        const status = xhr.status;
        let answer = {};
        try { answer = JSON.parse(xhr.responseText); } catch (err) { answer = {}; }
        if (status === 202) {
          const made = await Promise.all(sending.map((c) => c.preview));
          (answer.images || []).forEach((item, i) => {
            if (!made[i]) return;
            // Best effort: a full sessionStorage only loses the preview.
            try { window.sessionStorage.setItem(PREVIEW_KEY + item.image_id, made[i]); } catch (e) { /* full */ }
          });
          // One picture: its own page; several: the batch's gallery.
          const several = answer.images && answer.images.length > 1;
          window.location.href = several ? form.dataset.galleryUrl + "?batch=" + answer.batch_id
                                         : form.dataset.detailUrl.replace("/0/", "/" + answer.image_id + "/");
          return;
        }
        finishSending();
        if (status === 400 && answer.errors) showErrors(Object.values(answer.errors).flat());
        else showErrors([answer.error || "The upload failed (" + status + "). Please try again."]);
      };
      const lost = (message) => () => { finishSending(); showErrors([message]); };
      xhr.onerror = lost("The connection was lost. Please try again.");
      xhr.onabort = lost("Upload cancelled. Nothing was sent; your pictures are still listed.");
      showErrors([]);
      xhr.send(body);
    });
  }

  async function postForm(formEl, action) {
    const r = await fetch(action || formEl.action, {
      method: "POST", body: new FormData(formEl), credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    const body = await r.json().catch(() => ({}));
    return { status: r.status, body: body };
  }

  // --- gallery: the lightbox ----------------------------------------------------------------------
  // A click on a ready tile opens its picture full screen (a modal <dialog>: focus stays inside,
  // Esc closes and focus returns to the tile); arrows go to the previous and next ready tile, + and -
  // zoom, 0 fits. Other tiles, and clicks with a modifier key, open the picture's page as before.
  const lightbox = document.getElementById("lightbox");
  if (lightbox && lightbox.showModal) {
    const lbImg = document.getElementById("lightbox-img");
    const lbStage = document.getElementById("lightbox-stage");
    const lbTitle = document.getElementById("lightbox-title");
    const lbPos = document.getElementById("lightbox-pos");
    const lbOpen = document.getElementById("lightbox-open");
    const tiles = () => Array.from(document.querySelectorAll("#gallery a.tile[data-full-src]"))
      .filter((t) => !t.closest(".tile-box").hidden);
    let current = null;
    let zoom = 0;
    function setZoom(level) {
      zoom = Math.max(0, Math.min(3, level));
      if (zoom === 0) {
        lbStage.classList.remove("zoomed");
        lbImg.style.width = "";
      } else {
        const fit = Math.min(lbStage.clientWidth / lbImg.naturalWidth, lbStage.clientHeight / lbImg.naturalHeight, 1);
        lbStage.classList.add("zoomed");
        lbImg.style.width = Math.round(lbImg.naturalWidth * fit * Math.pow(2, zoom)) + "px";
      }
      lightbox.dataset.zoom = String(zoom);
    }
    function show(tile) {
      const list = tiles();
      current = tile;
      setZoom(0);
      lbImg.srcset = tile.dataset.fullSrcset;
      lbImg.src = tile.dataset.fullSrc;
      lbImg.alt = tile.dataset.title;
      lbTitle.textContent = tile.dataset.title;
      lbPos.textContent = (list.indexOf(tile) + 1) + " of " + list.length;
      lbOpen.href = tile.href;
    }
    function step(by) {
      const list = tiles();
      if (!current || list.length < 2) return;
      show(list[(list.indexOf(current) + by + list.length) % list.length]);
    }
    document.getElementById("gallery").addEventListener("click", (e) => {
      const tile = e.target.closest("a.tile[data-full-src]");
      if (!tile || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey || e.button !== 0) return;
      e.preventDefault();
      show(tile);
      lightbox.showModal();
    });
    lightbox.addEventListener("close", () => {
      lbImg.removeAttribute("src");
      lbImg.removeAttribute("srcset");
      if (current) current.focus();
    });
    lightbox.addEventListener("keydown", (e) => {
      // Zoomed in, the arrows scroll the picture when it has the focus; otherwise they move on.
      if (zoom > 0 && e.target === lbStage && e.key.startsWith("Arrow")) return;
      const actions = { ArrowLeft: () => step(-1), ArrowRight: () => step(1), "+": () => setZoom(zoom + 1),
                        "=": () => setZoom(zoom + 1), "-": () => setZoom(zoom - 1), "0": () => setZoom(0) };
      if (actions[e.key]) { e.preventDefault(); actions[e.key](); }
    });
    lightbox.querySelectorAll("[data-lb]").forEach((b) => b.addEventListener("click", () => {
      ({ prev: () => step(-1), next: () => step(1), "zoom-in": () => setZoom(zoom + 1),
         "zoom-out": () => setZoom(zoom - 1), close: () => lightbox.close() })[b.dataset.lb]();
    }));
  }

  // --- gallery: select several, delete them, undo ------------------------------------------------
  const bulk = document.getElementById("bulk-form");
  const undoBar = document.getElementById("undo-bar");
  if (bulk && undoBar) {
    const count = document.getElementById("bulk-count");
    const button = document.getElementById("bulk-delete");
    const undoForm = document.getElementById("undo-form");
    const undoText = document.getElementById("undo-text");
    const hint = count.textContent;
    const chosen = () => Array.from(document.querySelectorAll(".tile-select:checked"));
    function update() {
      const n = chosen().length;
      button.disabled = n === 0;
      count.textContent = n === 0 ? hint : (n === 1 ? "1 picture selected" : n + " pictures selected");
    }
    document.addEventListener("change", (e) => { if (e.target.classList.contains("tile-select")) update(); });
    update();
    bulk.addEventListener("submit", async (e) => {
      e.preventDefault();
      const boxes = chosen();
      if (!boxes.length) return;
      const body = new FormData(bulk); // the ticked boxes belong to it (form="bulk-form")
      button.disabled = true;
      let r;
      try {
        r = await fetch(bulk.action, { method: "POST", body: body, credentials: "same-origin", headers: { Accept: "application/json" } });
      } catch (err) { count.textContent = "The connection was lost. Please try again."; update(); return; }
      if (!r.ok) { count.textContent = "Could not delete (" + r.status + "). Please try again."; return; }
      const deleted = (await r.json()).deleted;
      undoForm.querySelectorAll("input[name=ids]").forEach((i) => i.remove());
      boxes.forEach((b) => {
        if (!deleted.includes(parseInt(b.value, 10))) return;
        b.checked = false;
        b.closest(".tile-box").hidden = true;
        const keep = document.createElement("input");
        keep.type = "hidden"; keep.name = "ids"; keep.value = b.value;
        undoForm.append(keep);
      });
      const first = boxes[0].closest(".tile-box").querySelector("a.tile").dataset.title;
      undoText.textContent = deleted.length === 1 ? "Deleted “" + first + "”." : "Deleted " + deleted.length + " pictures.";
      undoBar.hidden = false;
      undoBar.querySelector("button").focus();
      update();
    });
    undoForm.addEventListener("submit", async (e) => {
      const ids = Array.from(undoForm.querySelectorAll("input[name=ids]"), (i) => i.value);
      // Only what this page hid can come back in place; a delete from another page reloads.
      if (!ids.every((id) => document.querySelector(".tile-select[value='" + id + "']"))) return;
      e.preventDefault();
      let r;
      try {
        r = await fetch(undoForm.action, { method: "POST", body: new FormData(undoForm), credentials: "same-origin", headers: { Accept: "application/json" } });
      } catch (err) { undoText.textContent = "The connection was lost. Please try again."; return; }
      const answer = await r.json().catch(() => ({}));
      if (!r.ok) { undoText.textContent = answer.error || "This can no longer be undone."; return; }
      answer.restored.forEach((id) => {
        const box = document.querySelector(".tile-select[value='" + id + "']");
        if (box) box.closest(".tile-box").hidden = false;
      });
      undoBar.hidden = true;
    });
  }

  // --- detail: rename in place -------------------------------------------------------------------
  const renameForm = document.getElementById("rename-form");
  if (renameForm) {
    const box = document.getElementById("rename");
    const title = document.getElementById("image-title");
    const renameErrors = document.getElementById("rename-errors");
    const field = renameForm.querySelector("input[name=title]");
    box.addEventListener("toggle", () => { if (box.open) { field.focus(); field.select(); } });
    field.addEventListener("keydown", (e) => {
      if (e.key === "Escape") { field.value = title.textContent; box.open = false; }
    });
    renameForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      let answer;
      try { answer = await postForm(renameForm); } catch (err) {
        renameErrors.textContent = "The connection was lost. Please try again."; return;
      }
      if (answer.status === 200) {
        const old = title.textContent;
        // The pictures' text alternatives start with the title: they follow it.
        document.querySelectorAll("#image-detail img[alt]").forEach((img) => {
          if (img.alt === old || img.alt.startsWith(old + ", ")) img.alt = answer.body.title + img.alt.slice(old.length);
        });
        title.textContent = answer.body.title;
        document.title = document.title.replace(/^[^·]*·/, answer.body.title + " ·");
        field.value = answer.body.title;
        const alt = 'alt="' + answer.body.title.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;") + '"';
        document.querySelectorAll(".media-copy textarea").forEach((t) => { t.value = t.value.replace(/alt="[^"]*"/, alt); });
        renameErrors.textContent = "";
        box.open = false;
      } else {
        renameErrors.textContent = answer.body.error || Object.values(answer.body.errors || {}).flat().join(" ") || "Could not rename.";
      }
    });
  }

  // --- detail: copy a link or a <picture> snippet --------------------------------------------------
  if (navigator.clipboard) {
    document.querySelectorAll("[data-copy], [data-copy-from]").forEach((button) => {
      button.hidden = false;
      const label = button.textContent;
      button.addEventListener("click", async () => {
        const text = button.dataset.copy || button.parentElement.querySelector("textarea").value;
        try { await navigator.clipboard.writeText(text); button.textContent = "Copied"; }
        catch (e) { button.textContent = "Could not copy"; }
        setTimeout(() => { button.textContent = label; }, 2000);
      });
    });
  }

  // --- detail: before and after, one over the other --------------------------------------------------
  const compare = document.getElementById("compare-frame");
  const range = document.getElementById("compare-range");
  if (compare && range) {
    const before = compare.querySelector(".compare-before");
    compare.classList.add("overlaid");
    range.parentElement.hidden = false;
    const cut = () => { before.style.clipPath = "inset(0 " + (100 - range.value) + "% 0 0)"; };
    range.addEventListener("input", cut);
    cut();
  }

  // --- live state --------------------------------------------------------------------------------
  const FINAL = { SUCCESS: true, FAILURE: true, CANCELLED: true };
  // An image's final state shown with the job-state colours (as STATE_CSS in views.py).
  const IMAGE_CSS = { READY: "SUCCESS", FAILED: "FAILURE", CANCELLED: "CANCELLED" };
  const detail = document.getElementById("image-detail");
  if (detail && detail.dataset.statusUrl && window.backroomPoll) {
    const state = document.getElementById("image-state");
    const progress = document.getElementById("image-progress");
    const message = document.getElementById("image-message");
    window.backroomPoll(detail.dataset.statusUrl, (job) => {
      if (FINAL[job.state]) { window.location.reload(); return; }
      if (job.state === "QUEUED") return;
      state.textContent = job.state_label;
      state.className = "state state-PROGRESS";
      if (message) message.textContent = job.state === "RETRY" ? "A temporary problem; retrying shortly…" : "Compressing…";
      if (progress && job.progress) progress.value = job.progress.percent;
    });
  }

  // The batch page's "7 of 18 ready", counted up as its tiles finish.
  const batchCount = document.getElementById("batch-count");
  const batchBar = document.getElementById("batch-progress");
  function batchDone(tile, state) {
    if (!batchCount || tile.dataset.counted) return;
    tile.dataset.counted = "1";
    const d = batchCount.dataset;
    if (state === "READY") d.ready = parseInt(d.ready, 10) + 1; else d.failed = parseInt(d.failed, 10) + 1;
    const failed = parseInt(d.failed, 10);
    batchCount.textContent = d.ready + " of " + d.total + " ready" + (failed ? "; " + failed + " could not be processed" : "");
    if (batchBar) batchBar.value = parseInt(d.ready, 10) + failed;
  }

  document.querySelectorAll("#gallery [data-status-url]").forEach((tile) => {
    if (!window.backroomPoll) return;
    window.backroomPoll(tile.dataset.statusUrl, async (job) => {
      const badge = tile.querySelector("[data-role=state]");
      if (!FINAL[job.state]) {
        if (job.state !== "QUEUED") { badge.textContent = job.state_label; badge.className = "state state-PROGRESS"; }
        return;
      }
      try {
        const r = await fetch(tile.dataset.imageUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" });
        const image = await r.json();
        badge.textContent = image.state_label;
        batchDone(tile, image.state);
        // Ready: the lightbox can show it too, from the same sizes the page would list.
        const full = image.srcset && (image.srcset.JPEG || image.srcset.PNG);
        if (image.state === "READY" && full) {
          const medium = image.renditions.find((x) => x.name === "medium" && (x.format === "JPEG" || x.format === "PNG"));
          tile.dataset.fullSrcset = full;
          tile.dataset.fullSrc = medium ? medium.url : full.split(" ")[0];
        }
        badge.className = "state state-" + (IMAGE_CSS[image.state] || "FAILURE");
        let squares = image.renditions.filter((x) => x.name === "square");
        if (!squares.length) squares = image.renditions.filter((x) => x.name === "thumb");
        const best = ["AVIF", "WEBP"].map((f) => squares.find((x) => x.format === f)).filter(Boolean);
        const fallback = squares.find((x) => x.format === "JPEG" || x.format === "PNG") || squares[0];
        const holder = tile.querySelector(".media-placeholder");
        if (fallback && holder) {
          const wrap = document.createElement("div");
          wrap.className = "media-ph";
          const picture = document.createElement("picture");
          for (const r of best) {
            const source = document.createElement("source");
            source.type = "image/" + r.format.toLowerCase();
            source.srcset = r.url;
            picture.append(source);
          }
          const img = document.createElement("img");
          img.alt = image.title; // square by app.css, like server-made tiles
          picture.append(img);
          wrap.append(picture);
          if (image.placeholder) wrap.dataset.thumbhash = image.placeholder.thumbhash;
          holder.replaceWith(wrap);
          placeholder(wrap);
          img.src = fallback.url;
          try { window.sessionStorage.removeItem(PREVIEW_KEY + image.id); } catch (e) { /* none kept */ }
        } else if (holder && image.state === "FAILED") {
          holder.textContent = "✕";
        }
      } catch (e) { /* the next page load shows it */ }
    });
  });

  // --- focal point ---------------------------------------------------------------------------------
  // Clicking the picture moves the sliders (which stay the keyboard's way in) and saves at once;
  // the marker follows the sliders; the square preview is reloaded when its job is done.
  const focusForm = document.getElementById("focus-form");
  const focusPicture = document.getElementById("focus-picture");
  if (focusForm && focusPicture) {
    const x = focusForm.querySelector("input[name=x]");
    const y = focusForm.querySelector("input[name=y]");
    const marker = focusPicture.querySelector(".focal-marker");
    const status = document.getElementById("focus-status");
    function place() {
      marker.style.left = (100 * parseFloat(x.value)) + "%";
      marker.style.top = (100 * parseFloat(y.value)) + "%";
      marker.hidden = false;
    }
    place();
    x.addEventListener("input", place);
    y.addEventListener("input", place);

    function refreshSquare() {
      document.querySelectorAll("#focus-square img, #focus-square source").forEach((el) => {
        const attr = el.tagName === "IMG" ? "src" : "srcset";
        el[attr] = el[attr].replace(/([?&])v=[^&]*/, "$1v=" + Date.now());
        if (el.tagName === "IMG") el.srcset = "";
      });
    }

    async function save() {
      status.textContent = "Saving…";
      let response;
      try {
        response = await fetch(focusForm.action, {
          method: "POST", body: new FormData(focusForm), credentials: "same-origin",
          headers: { Accept: "application/json" },
        });
      } catch (e) { status.textContent = "The connection was lost. Please try again."; return; }
      const body = await response.json().catch(() => ({}));
      if (response.status === 200) { status.textContent = "Saved."; return; }
      if (response.status !== 202) {
        status.textContent = body.error || Object.values(body.errors || {}).flat().join(" ") || "Could not save.";
        return;
      }
      status.textContent = "Saved; cutting the square again…";
      if (!window.backroomPoll) return;
      window.backroomPoll(body.status_url, (job) => {
        if (!FINAL[job.state]) return;
        status.textContent = job.state === "SUCCESS" ? "Square crop updated." : (job.error || "The crop failed.");
        if (job.state === "SUCCESS") refreshSquare();
      });
    }

    focusPicture.addEventListener("click", (e) => {
      const img = focusPicture.querySelector("img");
      const box = img.getBoundingClientRect();
      const fx = Math.min(1, Math.max(0, (e.clientX - box.left) / box.width));
      const fy = Math.min(1, Math.max(0, (e.clientY - box.top) / box.height));
      x.value = fx.toFixed(2);
      y.value = fy.toFixed(2);
      place();
      save();
    });
    focusForm.addEventListener("submit", (e) => { e.preventDefault(); save(); });
  }
})();
