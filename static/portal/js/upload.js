// Document uploads: drag and drop, a size check before sending, and one
// XMLHttpRequest per file with its own progress bar. Forms marked data-upload
// work without this script too (a plain multipart post).
//
// Texts come from data-msg-* attributes (translated by the server); anything
// that came from a user (file names, server messages) is set with textContent.

const formatBytes = (n) => {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i += 1;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
};

const el = (tag, attrs = {}, text = "") => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text) node.textContent = text;
  return node;
};

function setup(form) {
  const input = form.querySelector('input[type="file"]');
  const list = form.querySelector("[data-upload-list]");
  const zone = form.querySelector("[data-dropzone]");
  const summary = form.querySelector("[data-upload-summary]");
  const singleTitle = form.querySelector("[data-single-title]");
  const button = form.querySelector('button[type="submit"]');
  const maxBytes = Number(form.dataset.maxBytes || 0);
  const withTitles = "uploadTitles" in form.dataset;
  const msg = (key) => form.dataset[`msg${key}`] || "";
  let rows = [];

  const render = () => {
    list.replaceChildren();
    rows = [];
    summary.textContent = "";
    const files = Array.from(input.files || []);
    // One file per row; the shared title field is replaced by a title per file.
    if (singleTitle && withTitles) singleTitle.hidden = files.length > 0;
    files.forEach((file, index) => {
      const item = el("li", { class: "upload-item" });
      const head = el("div", { class: "upload-head" });
      head.append(el("strong", {}, file.name), el("span", { class: "muted" }, ` ${formatBytes(file.size)}`));
      item.append(head);
      let title = null;
      if (withTitles) {
        const id = `upload-title-${index}`;
        title = el("input", { type: "text", id, maxlength: "200" });
        title.value = file.name;
        const label = el("label", { for: id }, `${msg("Title")} — ${file.name}`);
        item.append(label, title);
      }
      const progress = el("progress", { max: "100", value: "0", "aria-label": file.name });
      const status = el("span", { class: "upload-status", role: "status" }, msg("Waiting"));
      item.append(progress, status);
      let problem = "";
      if (file.size === 0) problem = msg("Empty");
      else if (maxBytes && file.size > maxBytes) problem = msg("TooBig");
      if (problem) {
        item.classList.add("failed");
        progress.hidden = true;
        status.textContent = problem;
      }
      list.append(item);
      rows.push({ file, title, progress, status, item, problem });
    });
  };

  const send = (row) =>
    new Promise((resolve) => {
      const data = new FormData(form);
      data.delete("files");
      if (row.title) data.set("title", row.title.value);
      data.set("size", String(row.file.size));
      data.append("files", row.file, row.file.name);
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) {
          row.progress.value = Math.round((event.loaded / event.total) * 100);
        }
      });
      const fail = (messages) => {
        row.item.classList.add("failed");
        row.status.replaceChildren();
        row.status.append(el("strong", {}, msg("Failed")));
        for (const text of messages) row.status.append(el("span", { class: "upload-error" }, ` ${text}`));
        resolve(null);
      };
      xhr.addEventListener("load", () => {
        let body = {};
        try {
          body = JSON.parse(xhr.responseText);
        } catch {
          body = {};
        }
        if (xhr.status >= 200 && xhr.status < 300 && body.ok) {
          row.progress.value = 100;
          row.item.classList.add("done");
          row.status.replaceChildren(el("span", {}, `${msg("Done")} `));
          const link = el("a", { href: body.url }, `${msg("Open")}: ${body.title}`);
          row.status.append(link);
          for (const note of body.notes || []) row.status.append(el("span", { class: "upload-note" }, ` ${note}`));
          resolve(body);
        } else {
          fail(body.errors && body.errors.length ? body.errors : [msg("Network")]);
        }
      });
      xhr.addEventListener("error", () => fail([msg("Network")]));
      xhr.addEventListener("abort", () => fail([msg("Network")]));
      row.status.textContent = msg("Uploading");
      xhr.send(data);
    });

  input.addEventListener("change", render);

  if (zone) {
    for (const type of ["dragenter", "dragover"]) {
      zone.addEventListener(type, (event) => {
        event.preventDefault();
        zone.classList.add("dragging");
      });
    }
    for (const type of ["dragleave", "drop"]) {
      zone.addEventListener(type, () => zone.classList.remove("dragging"));
    }
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      const files = event.dataTransfer && event.dataTransfer.files;
      if (!files || !files.length) return;
      if (input.multiple) {
        input.files = files;
      } else {
        const one = new DataTransfer();
        one.items.add(files[0]);
        input.files = one.files;
      }
      render();
    });
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!rows.length) render();
    const todo = rows.filter((row) => !row.problem);
    if (!todo.length) {
      summary.textContent = msg("None");
      input.focus();
      return;
    }
    button.disabled = true;
    let ok = 0;
    let last = null;
    // One after the other: each file gets the whole connection and its own bar.
    for (const row of todo) {
      const result = await send(row);
      if (result) {
        ok += 1;
        last = result;
      }
    }
    button.disabled = false;
    const failed = rows.length - ok;
    if ("uploadFollow" in form.dataset && last && failed === 0) {
      window.location.assign(last.url);
      return;
    }
    const template = msg("Summary");
    if (template) summary.textContent = template.replace("%(ok)s", ok).replace("%(failed)s", failed);
    input.value = "";
  });
}

for (const form of document.querySelectorAll("form[data-upload]")) setup(form);
