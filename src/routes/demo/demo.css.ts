/**
 * The demo article page's stylesheet, served as a file so the page's Content-Security-Policy
 * needs no 'unsafe-inline': the embed has to work under exactly such a policy.
 */
export const DEMO_CSS = `
:root{color-scheme:light dark;--bg:#fafaf7;--fg:#1d1d1f;--mut:#55555a;--bd:#ddd;--note:#fff8e0;--noteb:#e8d89a;--link:#0b57d0}
@media (prefers-color-scheme:dark){:root{--bg:#111214;--fg:#e8e8ea;--mut:#a9a9b0;--bd:#2e2f33;--note:#2b2611;--noteb:#5a4d1c;--link:#8ab4f8}}
*{box-sizing:border-box}
body{font:18px/1.6 Georgia,"Times New Roman",serif;margin:0;color:var(--fg);background:var(--bg)}
a{color:var(--link)}
header{border-bottom:1px solid var(--bd);padding:12px 20px;font:700 20px/1.2 system-ui,sans-serif;letter-spacing:.01em}
header small{font-weight:400;color:var(--mut);font-size:14px;margin-left:8px}
main{max-width:720px;margin:0 auto;padding:20px}
h1{line-height:1.2;font-size:34px;margin:8px 0 12px}
.kicker{font:600 13px system-ui,sans-serif;text-transform:uppercase;letter-spacing:.08em;color:var(--mut);margin:0}
.byline{color:var(--mut);font:14px system-ui,sans-serif}
.note{background:var(--note);border:1px solid var(--noteb);border-radius:6px;padding:8px 12px;font:14px/1.5 system-ui,sans-serif}
section#comments{margin:32px 0}
footer{max-width:720px;margin:0 auto;padding:0 20px 40px;font:14px system-ui,sans-serif;color:var(--mut)}
@media (max-width:480px){body{font-size:17px}main{padding:14px}h1{font-size:27px}header small{display:none}}
`;
