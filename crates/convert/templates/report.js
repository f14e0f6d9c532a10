(function () {
  'use strict';
  function each(list, f) { Array.prototype.forEach.call(list, f); }

  // One panel per run. Without this script every panel shows, the latest first; with
  // it the picker shows one at a time, the latest by default.
  var picker = document.getElementById('run-picker');
  var panels = document.querySelectorAll('section.run');
  function showRun() {
    each(panels, function (panel) {
      panel.hidden = panel.getAttribute('data-run') !== picker.value;
    });
  }
  picker.addEventListener('change', showRun);
  document.getElementById('picker').hidden = false;
  showRun();

  // Each run's table filters on its own: text, decision and invitation state.
  each(panels, function (panel) {
    var filter = panel.querySelector('.filter');
    var decision = panel.querySelector('select.decision');
    var state = panel.querySelector('select.state');
    var shown = panel.querySelector('.shown');
    var none = panel.querySelector('.empty');
    var rows = Array.prototype.slice.call(panel.querySelectorAll('table.users tbody tr'));
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
    panel.querySelector('.controls').hidden = false;
    apply();
  });
}());
