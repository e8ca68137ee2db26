// One-click copy of an invite's candidate link in the admin.
"use strict";

function copyLink(button) {
  const link = button.dataset.link;
  const done = () => {
    const label = button.textContent;
    button.textContent = "Copied ✓";
    setTimeout(() => { button.textContent = label; }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(link).then(done, () => fallbackCopy(link, done));
  } else {
    fallbackCopy(link, done);
  }
}

function fallbackCopy(text, done) {
  const field = document.createElement("textarea");
  field.value = text;
  field.setAttribute("readonly", "");
  field.className = "aurio-offscreen";
  document.body.appendChild(field);
  field.select();
  document.execCommand("copy");
  field.remove();
  done();
}

document.addEventListener("click", (event) => {
  const button = event.target.closest(".aurio-copy");
  if (button) {
    event.preventDefault();
    copyLink(button);
  }
});
