"""The report's stylesheet, inline in every report (no external fonts or files).

Large type and strong contrast for a projector; on paper, white backgrounds, charts and
tables kept whole on one page, headings kept with what follows them.
"""

CSS = """\
:root {
  --ink: #1b1f24; --muted: #5b6470; --rule: #d5dae0; --accent: #1f4e79;
  --panel: #f2f6fa; --better: #17702a; --worse: #b3261e;
}
* { box-sizing: border-box; }
html { font-size: 17px; }
body {
  margin: 0; color: var(--ink); background: #fff; line-height: 1.45;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
    "Noto Sans", "Liberation Sans", sans-serif;
  font-variant-numeric: tabular-nums;
}
main { max-width: 1280px; margin: 0 auto; padding: 1.5rem 2rem 3rem; }
header { border-bottom: 4px solid var(--accent); padding-bottom: 0.6rem; margin-bottom: 1.2rem; }
h1 { font-size: 2.3rem; line-height: 1.15; margin: 0 0 0.4rem; color: var(--accent); }
h2 {
  font-size: 1.6rem; margin: 2.2rem 0 0.8rem; padding-bottom: 0.2rem;
  border-bottom: 1px solid var(--rule);
}
h3 { font-size: 1.25rem; margin: 1.6rem 0 0.6rem; }
h4 { font-size: 1.05rem; margin: 1rem 0 0.3rem; }
.subtitle { margin: 0; color: var(--muted); font-size: 1.05rem; }
.note { color: var(--muted); font-size: 0.92rem; max-width: 70rem; }
.warning { border-left: 5px solid var(--worse); padding: 0.4rem 0.8rem; }

#summary .findings {
  background: var(--panel); border-left: 6px solid var(--accent);
  margin: 0; padding: 0.9rem 1.2rem 0.9rem 2.4rem; font-size: 1.2rem;
}
#summary .findings li { margin: 0.35rem 0; }
#summary .findings li.missing { color: var(--muted); font-size: 0.9em; }
.probability { font-size: 1.12rem; margin: 0.9rem 0 0.3rem; }
.verdict { font-size: 1.25rem; max-width: 70rem; }
.cautions { border-left: 6px solid var(--worse); padding: 0.2rem 1.2rem; margin: 1rem 0; }
.cautions h3 { margin: 0.4rem 0; font-size: 1.1rem; }
table.why td.what { text-align: left; white-space: normal; max-width: 36rem; }
table.why thead th:nth-child(2) { text-align: left; }

table { border-collapse: collapse; margin: 0.4rem 0 1rem; }
caption {
  caption-side: top; text-align: left; font-weight: 600; color: var(--muted);
  padding: 0 0 0.3rem;
}
th, td { padding: 0.35rem 0.7rem; border-bottom: 1px solid var(--rule); vertical-align: top; }
thead th { border-bottom: 2px solid var(--ink); text-align: right; white-space: nowrap; }
thead th:first-child { text-align: left; }
tbody th { text-align: left; font-weight: 500; }
table.numbers { min-width: 55%; font-size: 1.08rem; }
table.numbers td, table.numbers thead th { padding-left: 2.2rem; }
table.numbers td { text-align: right; white-space: nowrap; }
table.numbers tr.headline th, table.numbers tr.headline .mean { font-weight: 700; }
table.numbers tr.group th {
  text-align: left; font-weight: 700; color: var(--accent); padding-top: 0.9rem;
  border-bottom: 2px solid var(--accent);
}
.mean.best { font-weight: 800; text-decoration: underline; text-decoration-thickness: 2px;
  text-underline-offset: 3px; }
.ci { color: var(--muted); font-size: 0.88em; }
.diff { display: block; font-size: 0.88em; }
.diff.better { color: var(--better); font-weight: 600; }
.diff.worse { color: var(--worse); font-weight: 600; }
.diff.unclear { color: var(--muted); }
p .diff { display: inline; }
.baseline { font-weight: 400; color: var(--muted); }

details { margin: 0.6rem 0 1rem; }
summary { cursor: pointer; font-weight: 600; color: var(--accent); padding: 0.3rem 0; }
pre {
  font-size: 0.8rem; line-height: 1.3; background: var(--panel); padding: 0.8rem;
  overflow-x: auto; border: 1px solid var(--rule);
}

.charts { display: grid; grid-template-columns: 1fr; gap: 2rem; max-width: 1120px; }
figure { margin: 0; border: 1px solid var(--rule); padding: 1rem; background: #fff; }
figure img { display: block; width: 100%; height: auto; }
figcaption { font-size: 1.05rem; margin-top: 0.6rem; max-width: 60rem; }

.param-grid { display: flex; flex-wrap: wrap; gap: 0 2.5rem; align-items: flex-start; }
table.params { font-size: 0.98rem; }
table.params td { text-align: left; }
table.params.wide td { white-space: normal; }
table.params.wide thead th { text-align: left; }
.tier-grid { display: flex; flex-wrap: wrap; gap: 0 2.5rem; }
table.tiers td { text-align: right; }

footer { margin-top: 2.5rem; padding-top: 0.6rem; border-top: 1px solid var(--rule);
  color: var(--muted); font-size: 0.9rem; }

@media print {
  @page { size: A4; margin: 14mm 12mm; }
  html { font-size: 10.5pt; }
  body, main, figure, #summary .findings, pre { background: #fff !important; }
  main { max-width: none; padding: 0; }
  h1 { font-size: 1.9rem; }
  h2, h3, h4, caption { break-after: avoid; page-break-after: avoid; }
  table, figure, .findings, tr, .param-grid > table { break-inside: avoid;
    page-break-inside: avoid; }
  thead { display: table-header-group; }
  .charts { display: block; }
  figure { border: none; padding: 0; margin: 0 0 1rem; }
  figure img { width: auto; max-width: 100%; max-height: 120mm; margin: 0 auto; }
  a { color: inherit; text-decoration: none; }
  summary { color: var(--ink); }
}
"""
