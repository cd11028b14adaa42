/**
 * The widget's stylesheet. It lives in the shadow root, so the host page's rules cannot reach
 * inside and ours cannot leak out. Colours meet WCAG AA (4.5:1) against the widget's own
 * background in both themes; sizes are in px because rem would follow the host page's root size.
 */
export const CSS = `
:host{display:block!important;contain:content}
.pw{all:initial;display:block;box-sizing:border-box;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
--bg:#fff;--fg:#1a1a1a;--mut:#595959;--bd:#c9c9c9;--sub:#f4f4f5;--ac:#0b57d0;--acf:#fff;--err:#b3261e;--pbg:#fff4ce;--pfg:#574000;
color:var(--fg);background:var(--bg);border:1px solid var(--bd);border-radius:10px;padding:16px;max-width:100%;overflow-wrap:anywhere;color-scheme:light}
.pw.dark{--bg:#1b1c1f;--fg:#ececec;--mut:#b4b4b4;--bd:#4a4b50;--sub:#26272b;--ac:#8ab4f8;--acf:#0d1b33;--err:#f2b8b5;--pbg:#3d3200;--pfg:#ffe08a;color-scheme:dark}
.pw *,.pw *::before,.pw *::after{box-sizing:border-box}
[hidden]{display:none!important}
h2,h3{font-size:20px;line-height:1.3;margin:0 0 12px;font-weight:650}
h3{font-size:17px;margin:0}
p{margin:0}
form{display:grid;gap:10px;margin:0 0 20px;padding:12px;background:var(--sub);border-radius:8px}
.row{display:grid;gap:10px;grid-template-columns:1fr 1fr}
@media (max-width:480px){.row{grid-template-columns:1fr}.pw{padding:10px}form{padding:10px}}
label{display:block;font-weight:600;font-size:14px;margin-bottom:2px}
.hint,.count,time,.meta{color:var(--mut);font-size:13px}
.hint{font-weight:400}
input,textarea{display:block;width:100%;font:inherit;color:var(--fg);background:var(--bg);border:1px solid var(--bd);border-radius:6px;padding:8px 10px;margin:0}
textarea{min-height:96px;resize:vertical}
input[aria-invalid=true],textarea[aria-invalid=true]{border-color:var(--err);border-width:2px}
.ferr{color:var(--err);font-size:14px;margin-top:2px}
.ferr:empty{display:none}
.hp{position:absolute!important;left:-10000px;width:1px;height:1px;overflow:hidden}
button{font:inherit;font-size:15px;cursor:pointer;border-radius:6px;border:1px solid var(--ac);background:var(--ac);color:var(--acf);padding:7px 14px;margin:0;min-height:36px}
button.link{background:none;border-color:transparent;color:var(--ac);padding:4px 2px;min-height:32px;text-decoration:underline;text-underline-offset:2px}
button:disabled{opacity:.6;cursor:progress}
:focus-visible{outline:3px solid var(--ac);outline-offset:2px}
.actions{display:flex;flex-wrap:wrap;align-items:center;gap:8px 14px}
.status{font-size:14px}
.status.err{color:var(--err)}
.replying{font-size:14px;display:flex;gap:6px;align-items:center;flex-wrap:wrap}
ol{list-style:none;margin:0;padding:0}
li{margin:0}
.c{padding:12px 0;border-top:1px solid var(--bd)}
ol ol .c{border-top:0;padding-bottom:4px}
ol ol{margin-left:18px;padding-left:12px;border-left:2px solid var(--bd)}
ol ol ol ol{margin-left:0;padding-left:0;border-left:0}
@media (max-width:480px){ol ol{margin-left:6px;padding-left:8px}}
.head{display:flex;flex-wrap:wrap;gap:4px 10px;align-items:baseline}
.name{font-weight:650}
.body{white-space:pre-wrap;margin:4px 0 2px}
.badge{display:inline-block;font-size:13px;background:var(--pbg);color:var(--pfg);border-radius:4px;padding:0 6px;font-weight:600}
.note{font-size:14px;background:var(--pbg);color:var(--pfg);border-radius:6px;padding:8px 10px;margin:8px 0}
.c:focus{outline:none}
.c:focus-visible{outline:3px solid var(--ac)}
fieldset{border:1px solid var(--bd);border-radius:6px;margin:8px 0;padding:8px 10px;display:grid;gap:6px}
legend{font-weight:600;font-size:14px;padding:0 4px}
.radio{display:flex;gap:6px;align-items:center;font-weight:400}
.radio input{width:auto;display:inline-block}
.more{margin-top:12px}
.empty{color:var(--mut);padding:8px 0}
.gone{color:var(--mut);font-style:italic;font-size:14px;margin:2px 0 4px}
.edited{color:var(--mut);font-size:13px;font-style:italic}
.editor{margin:8px 0}
.confirm{display:grid;gap:6px;margin:8px 0;padding:8px 10px;border:1px solid var(--bd);border-radius:6px}
h2:focus{outline:none}
.sr{position:absolute!important;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
`;
