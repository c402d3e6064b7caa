// media_app pages, on top of forms that work without JavaScript:
// upload: drag-and-drop, previews, a progress bar while the bytes go up, errors in place;
// detail and gallery: live state through window.backroomPoll (core/app.js).
(function () {
  "use strict";

  function humanBytes(n) {
    if (n < 1024) return n + " B";
    if (n < 1048576) return (n / 1024).toFixed(0) + " KB";
    return (n / 1048576).toFixed(1) + " MB";
  }

  // --- upload --------------------------------------------------------------------------------
  const form = document.getElementById("upload-form");
  if (form) {
    const input = form.querySelector("input[type=file]");
    const zone = document.getElementById("dropzone");
    const previews = document.getElementById("previews");
    const bar = document.getElementById("upload-progress");
    const errors = document.getElementById("upload-errors");
    const maxBytes = parseInt(form.dataset.maxBytes, 10);
    form.querySelector(".drop-hint").hidden = false;

    function showPreviews() {
      previews.replaceChildren();
      for (const file of input.files) {
        const li = document.createElement("li");
        // Browsers cannot show HEIC or TIFF: those get a name only.
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
        label.textContent = file.name + " · " + humanBytes(file.size);
        if (file.size > maxBytes) { label.className = "bad"; label.textContent += " — too large"; }
        li.append(label);
        previews.append(li);
      }
    }
    input.addEventListener("change", showPreviews);

    ["dragenter", "dragover"].forEach((t) => zone.addEventListener(t, (e) => {
      e.preventDefault(); zone.classList.add("dragging");
    }));
    ["dragleave", "drop"].forEach((t) => zone.addEventListener(t, (e) => {
      e.preventDefault(); zone.classList.remove("dragging");
    }));
    zone.addEventListener("drop", (e) => {
      if (e.dataTransfer && e.dataTransfer.files.length) {
        input.files = e.dataTransfer.files;
        showPreviews();
      }
    });

    function showErrors(list) {
      errors.replaceChildren();
      for (const text of list) {
        const li = document.createElement("li");
        li.textContent = text;
        errors.append(li);
      }
      errors.hidden = list.length === 0;
    }

    form.addEventListener("submit", (e) => {
      if (!window.FormData || !window.XMLHttpRequest) return; // the plain form still works
      e.preventDefault();
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.action || window.location.href);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.onprogress = (ev) => {
        if (ev.lengthComputable) { bar.hidden = false; bar.value = (100 * ev.loaded) / ev.total; }
      };
      xhr.onload = () => {
        let body = {};
        try { body = JSON.parse(xhr.responseText); } catch (err) { body = {}; }
        if (xhr.status === 202) {
          // One picture: its own page; several: the batch's gallery.
          const several = body.images && body.images.length > 1;
          window.location.href = several ? form.dataset.galleryUrl + "?batch=" + body.batch_id
                                         : form.dataset.detailUrl.replace("/0/", "/" + body.image_id + "/");
        } else if (xhr.status === 400 && body.errors) {
          bar.hidden = true;
          showErrors(Object.values(body.errors).flat());
        } else {
          bar.hidden = true;
          showErrors([body.error || "The upload failed (" + xhr.status + "). Please try again."]);
        }
      };
      xhr.onerror = () => { bar.hidden = true; showErrors(["The connection was lost. Please try again."]); };
      showErrors([]);
      xhr.send(new FormData(form));
    });
  }

  // --- confirmations -----------------------------------------------------------------------------
  document.querySelectorAll("form[data-confirm]").forEach((f) => {
    f.addEventListener("submit", (e) => { if (!window.confirm(f.dataset.confirm)) e.preventDefault(); });
  });

  // --- live state --------------------------------------------------------------------------------
  const FINAL = { SUCCESS: true, FAILURE: true };
  const detail = document.getElementById("image-detail");
  if (detail && detail.dataset.statusUrl && window.backroomPoll) {
    const state = document.getElementById("image-state");
    const progress = document.getElementById("image-progress");
    const message = document.getElementById("image-message");
    window.backroomPoll(detail.dataset.statusUrl, (job) => {
      if (FINAL[job.state]) { window.location.reload(); return; }
      if (job.state === "QUEUED") return;
      state.textContent = "Processing";
      state.className = "state state-PROGRESS";
      if (message) message.textContent = job.state === "RETRY" ? "A temporary problem; retrying shortly…" : "Compressing…";
      if (progress && job.progress) progress.value = job.progress.percent;
    });
  }

  document.querySelectorAll("#gallery [data-status-url]").forEach((tile) => {
    if (!window.backroomPoll) return;
    window.backroomPoll(tile.dataset.statusUrl, async (job) => {
      const badge = tile.querySelector("[data-role=state]");
      if (!FINAL[job.state]) {
        if (job.state !== "QUEUED") { badge.textContent = "Processing"; badge.className = "state state-PROGRESS"; }
        return;
      }
      try {
        const r = await fetch(tile.dataset.imageUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" });
        const image = await r.json();
        badge.textContent = image.state === "READY" ? "Ready" : "Failed";
        badge.className = "state state-" + (image.state === "READY" ? "SUCCESS" : "FAILURE");
        const thumbs = image.renditions.filter((x) => x.name === "thumb");
        const fallback = thumbs.find((x) => x.format !== "WEBP") || thumbs[0];
        const holder = tile.querySelector(".media-placeholder");
        if (fallback && holder) {
          const img = document.createElement("img");
          img.src = fallback.url; img.alt = image.title; // square by app.css, like server-made tiles
          holder.replaceWith(img);
        } else if (holder && image.state === "FAILED") {
          holder.textContent = "✕";
        }
      } catch (e) { /* the next page load shows it */ }
    });
  });
})();
