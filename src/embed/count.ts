/**
 * count.js: the small script for article lists, which need counts but not the widget:
 *   <script src="https://PARLEY_HOST/count.js" data-site="SITE" async></script>
 */
import { Api, baseOf } from './api';
import { fillCounts } from './counts';

const script = document.currentScript as HTMLScriptElement | null;
const site = script?.dataset.site;
if (script && site) {
  const go = () => fillCounts(new Api(baseOf(script), site));
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', go);
  else go();
}
