// Meetings: small progressive enhancements; the forms work without them.

// The list of members to invite only matters when "Only the members I choose" is picked.
for (const fieldset of document.querySelectorAll("[data-invitees]")) {
  const choice = fieldset.querySelector(".invitee-choice");
  const radios = fieldset.querySelectorAll('input[name="invite"]');
  const sync = () => {
    const selected = fieldset.querySelector('input[name="invite"]:checked');
    choice.hidden = !selected || selected.value !== "selection";
  };
  for (const radio of radios) radio.addEventListener("change", sync);
  sync();
}

// "Add a slot" appends one more empty row to the poll's slot formset.
for (const fieldset of document.querySelectorAll("[data-slots]")) {
  const button = fieldset.querySelector("[data-add-slot]");
  const template = fieldset.querySelector("#slot-template");
  const list = fieldset.querySelector(".slot-rows");
  const total = fieldset.querySelector('input[name$="-TOTAL_FORMS"]');
  const max = fieldset.querySelector('input[name$="-MAX_NUM_FORMS"]');
  if (!button || !template || !list || !total) continue;
  button.hidden = false;
  button.addEventListener("click", () => {
    const index = Number(total.value);
    if (max && index >= Number(max.value)) return;
    const row = template.content.firstElementChild.cloneNode(true);
    for (const element of row.querySelectorAll("[id], [for], [name], [aria-describedby]")) {
      for (const attribute of ["id", "for", "name", "aria-describedby"]) {
        const value = element.getAttribute(attribute);
        if (value) element.setAttribute(attribute, value.replaceAll("__prefix__", String(index)));
      }
    }
    list.append(row);
    total.value = String(index + 1);
    row.querySelector("input")?.focus();
  });
}
