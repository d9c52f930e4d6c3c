// Small progressive enhancements; every page works without them.
// Elements marked data-confirm ask before their form is submitted.
document.addEventListener("submit", (event) => {
  const message = event.target.dataset.confirm;
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});
