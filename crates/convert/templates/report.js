(function () {
  'use strict';
  var filter = document.getElementById('filter');
  var decision = document.getElementById('decision');
  var state = document.getElementById('state');
  var shown = document.getElementById('shown');
  var none = document.getElementById('no-match');
  var rows = Array.prototype.slice.call(document.querySelectorAll('#users tbody tr'));
  // Row text is read once: a run can have thousands of rows and this runs per keystroke.
  var texts = rows.map(function (tr) { return tr.textContent.toLowerCase(); });
  function apply() {
    var text = filter.value.trim().toLowerCase();
    var d = decision.value;
    var s = state.value;
    var n = 0;
    rows.forEach(function (tr, i) {
      var match = (d === '' || tr.getAttribute('data-decision') === d) &&
        (s === '' || tr.getAttribute('data-state') === s) &&
        (text === '' || texts[i].indexOf(text) !== -1);
      tr.hidden = !match;
      if (match) { n += 1; }
    });
    shown.textContent = String(n);
    none.hidden = n !== 0;
  }
  filter.addEventListener('input', apply);
  decision.addEventListener('change', apply);
  state.addEventListener('change', apply);
  document.getElementById('controls').hidden = false;
  apply();
}());
