/**
 * count.js: the small script for article lists and bylines, which need counts but not the widget:
 *   <script src="https://PARLEY_HOST/count.js" data-site="SITE" async></script>
 * Counts are kept current while the page is open (`data-poll`: seconds, default 20, 0 for once).
 */
import { Api, baseOf } from './api';
import { pollMsOf, watchCounts } from './counts';

const script = document.currentScript as HTMLScriptElement | null;
const site = script?.dataset.site;
if (script && site) {
  const go = () => watchCounts(new Api(baseOf(script), site), pollMsOf(script.dataset.poll));
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', go);
  else go();
}
