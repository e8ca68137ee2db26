// The interview builder: move a question up or down. The buttons swap the
// rows and renumber every row's position field in the order shown, so what
// is saved is what the recruiter sees; without JavaScript the position
// fields are typed by hand.
"use strict";

function questionRows(table) {
  return Array.from(table.querySelectorAll("tbody tr.form-row"))
    .filter((row) => !row.classList.contains("empty-form") && row.querySelector("input.aurio-position"));
}

// A blank new row keeps its blank position: numbered, it would count as filled in
// and the form would ask for its text.
function isBlank(row) {
  const text = row.querySelector("textarea");
  return !row.classList.contains("has_original") && !(text && text.value.trim());
}

function renumber(table) {
  questionRows(table)
    .filter((row) => !isBlank(row))
    .forEach((row, index) => {
      row.querySelector("input.aurio-position").value = index;
    });
}

function move(row, direction) {
  const table = row.closest("table");
  const rows = questionRows(table);
  const index = rows.indexOf(row);
  const other = rows[index + direction];
  if (!other) {
    return;
  }
  if (direction < 0) {
    other.before(row);
  } else {
    other.after(row);
  }
  renumber(table);
  row.querySelector("input.aurio-position").focus();
}

function addMoveButtons(row) {
  const field = row.querySelector("input.aurio-position");
  if (!field || row.querySelector(".aurio-move")) {
    return;
  }
  let anchor = field;
  for (const [label, direction, title] of [["↑", -1, "Move up"], ["↓", 1, "Move down"]]) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "aurio-move";
    button.textContent = label;
    button.title = title;
    button.dataset.direction = String(direction);
    anchor.after(button);
    anchor = button;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("tr.form-row").forEach(addMoveButtons);
});

// A question added with "Add another question" gets its buttons too.
document.addEventListener("formset:added", (event) => {
  const row = event.target.closest ? event.target.closest("tr.form-row") || event.target : event.target;
  addMoveButtons(row);
});

document.addEventListener("click", (event) => {
  const button = event.target.closest(".aurio-move");
  if (button) {
    event.preventDefault();
    move(button.closest("tr.form-row"), Number(button.dataset.direction));
  }
});
