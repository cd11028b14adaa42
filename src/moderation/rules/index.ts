/**
 * The default pipeline, in order: cheap structural guards first, then bot and history signals,
 * links and site words, and the learned classifier last (the most expensive). The external
 * provider is not here: it is off by default and appended by the worker when configured.
 */
import type { Rule } from '../types';
import { botSignals } from './bot';
import { classifier } from './classifier';
import { duplicates } from './duplicates';
import { bodyLength, closedArticle, repeatedCharacters } from './guards';
import { links } from './links';
import { newCommenter } from './newcomer';
import { velocity } from './velocity';
import { siteWords } from './words';

export const defaultRules: readonly Rule[] = [
  closedArticle,
  bodyLength,
  repeatedCharacters,
  botSignals,
  velocity,
  duplicates,
  links,
  siteWords,
  classifier,
  newCommenter,
];
