// The status page's style: system fonts, light and dark from the system's setting, tables that
// become cards at phone width. Inline in the page: nothing is fetched from anywhere.

export const PAGE_STYLE = `
:root{--bg:#f4f5f7;--card:#fff;--fg:#1c2330;--muted:#687386;--line:#e2e5ea;--track:#e9ecf1;
--ok:#1a7f4b;--ok-bg:#e3f5eb;--warn:#9a6200;--warn-bg:#fff3d6;--bad:#c0262d;--bad-bg:#fde6e6;
--idle:#5b6577;--idle-bg:#eceff3;--accent:#2f6fde;--cache:#2f9e66;--fill:#2f6fde;--upstream:#d9822b;
color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--bg:#0f1318;--card:#171c23;--fg:#e3e7ee;--muted:#95a0b1;
--line:#2a313b;--track:#262d37;--ok:#4cc38a;--ok-bg:#133323;--warn:#e9b44c;--warn-bg:#3a2c0c;
--bad:#ff6b6b;--bad-bg:#3d1618;--idle:#a3adbd;--idle-bg:#252b35;--accent:#6ea1ff;--cache:#3fbf80;
--fill:#5b93f5;--upstream:#e8994a}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;font-variant-numeric:tabular-nums}
a{color:var(--accent)}
code{font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.muted,.aside{color:var(--muted);font-weight:400}
.top{display:flex;flex-wrap:wrap;align-items:center;gap:8px 18px;padding:12px 20px;background:var(--card);border-bottom:1px solid var(--line)}
.top h1{font-size:18px;margin:0;letter-spacing:-.01em}
.health{display:inline-flex;gap:6px;align-items:baseline;padding:3px 10px;border-radius:999px;min-width:0}
.health .detail{color:inherit;opacity:.85;font-size:12.5px;overflow-wrap:anywhere}
.meta{color:var(--muted);font-size:12.5px}
#conn::before{content:"";display:inline-block;width:7px;height:7px;border-radius:50%;background:currentColor;margin-right:5px;vertical-align:1px}
#conn[data-state=ok]{color:var(--ok)}#conn[data-state=bad]{color:var(--bad)}
.search{display:flex;gap:6px;margin-left:auto;flex:1 1 280px;max-width:460px;min-width:0}
.search input{flex:1;min-width:0;font:inherit;padding:6px 10px;border:1px solid var(--line);border-radius:6px;background:var(--bg);color:var(--fg)}
.search button{font:inherit;padding:6px 12px;border:0;border-radius:6px;background:var(--accent);color:#fff;cursor:pointer}
main{padding:16px 20px;display:grid;gap:16px;max-width:1500px;margin:0 auto}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(160px,1fr));gap:12px}
.kpi{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:10px 14px;display:flex;flex-direction:column;min-width:0}
.kpi .label{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.kpi strong{font-size:24px;font-weight:600;line-height:1.25}
.kpi small{color:var(--muted)}
.live{display:grid;gap:16px}
.pair{display:grid;grid-template-columns:repeat(auto-fit,minmax(380px,1fr));gap:16px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px 16px;min-width:0}
.card h2{font-size:15px;margin:0 0 10px;display:flex;flex-wrap:wrap;gap:4px 10px;align-items:baseline;overflow-wrap:anywhere}
.card h2 .aside{font-size:12.5px}
.empty{color:var(--muted);margin:4px 0}
.sub{display:block;font-size:12.5px;color:var(--muted);margin-top:3px}
table.rows{width:100%;border-collapse:collapse}
.rows th{text-align:left;font-size:12px;font-weight:600;color:var(--muted);padding:4px 8px;border-bottom:1px solid var(--line);white-space:nowrap}
.rows td{padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:top}
.rows tr:last-child td{border-bottom:0}
table.rows:not(:has(tbody>tr)){display:none}
.name,.url,.problem{overflow-wrap:anywhere;word-break:break-word}
.name{font-weight:500}
.url{font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.num{white-space:nowrap}
.fill td:nth-child(2){min-width:200px;width:34%}
.badge{display:inline-block;padding:1px 8px;border-radius:999px;font-size:12px;font-weight:600;white-space:nowrap}
[data-state=ok]>.badge,.badge[data-state=ok],.health[data-state=ok]{color:var(--ok);background:var(--ok-bg)}
[data-state=warn]>.badge,.badge[data-state=warn],.health[data-state=warn]{color:var(--warn);background:var(--warn-bg)}
[data-state=bad]>.badge,.badge[data-state=bad],.health[data-state=bad]{color:var(--bad);background:var(--bad-bg)}
[data-state=idle]>.badge,.badge[data-state=idle],.health[data-state=idle]{color:var(--idle);background:var(--idle-bg)}
tr.source[data-state=bad] .problem{color:var(--bad)}
.bar{position:relative;display:block;height:8px;border-radius:4px;background:var(--track);overflow:hidden}
.bar i{position:absolute;inset:0 auto 0 0;background:var(--accent);border-radius:4px;transition:width .6s ease}
.bar b{position:absolute;top:0;bottom:0;width:2px;margin-left:-1px;background:var(--fg);opacity:.45}
tr[data-state=ok] .bar i{background:var(--ok)}tr[data-state=bad] .bar i{background:var(--bad)}
.usage{height:14px;border-radius:7px}.usage i{background:var(--cache)}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:8px 24px}
figure{margin:0;min-width:0}
figcaption{font-size:12.5px;font-weight:600;margin-bottom:6px;display:flex;justify-content:space-between;gap:8px}
.chart{display:flex;align-items:flex-end;gap:1px;height:110px;border-bottom:1px solid var(--line);background:linear-gradient(var(--line) 1px,transparent 1px) 0 0/100% 25%}
.col{flex:1 1 0;min-width:0;height:100%;display:flex;flex-direction:column;justify-content:flex-end}
.col:hover{background:var(--track)}
.col i{display:block;min-height:0}
i.cache{background:var(--cache)}i.fill{background:var(--fill)}i.upstream{background:var(--upstream)}
.axis{display:flex;justify-content:space-between;font-size:11.5px;color:var(--muted);margin-top:2px}
.legend{font-size:12.5px;color:var(--muted);margin:8px 0}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin:0 4px 0 10px;vertical-align:-1px}
.legend i:first-child{margin-left:0}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 14px;margin:10px 0}
.facts dt{color:var(--muted)}.facts dd{margin:0;min-width:0;overflow-wrap:anywhere}
#explain{border-color:var(--accent)}
footer{color:var(--muted);font-size:12.5px;padding:8px 20px 24px;max-width:1500px;margin:0 auto}
[hidden]{display:none!important}
@media (max-width:720px){
.top{padding:10px 12px}.search{max-width:none;flex-basis:100%}
main{padding:12px;gap:12px}
.kpis{grid-template-columns:repeat(2,minmax(0,1fr));gap:8px}
.kpi strong{font-size:20px}
.pair{grid-template-columns:minmax(0,1fr)}
.charts{grid-template-columns:minmax(0,1fr)}
table.rows,.rows tbody,.rows tr,.rows td{display:block;width:100%}
.rows thead{display:none}
.rows tr{padding:8px 0;border-bottom:1px solid var(--line)}
.rows tr:last-child{border-bottom:0}
.rows td{border:0;padding:2px 0;display:grid;grid-template-columns:7.5em minmax(0,1fr);gap:8px;align-items:baseline}
.rows td::before{content:attr(data-label);color:var(--muted);font-size:12px}
.fill td:nth-child(2){min-width:0;width:100%}
}
`;
