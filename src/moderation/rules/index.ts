/** The default pipeline, in order: cheap structural guards first, then content rules. */
import type { Rule } from '../types';
import { bodyLength, closedArticle, repeatedCharacters } from './guards';
import { links } from './links';
import { siteWords } from './words';

export const defaultRules: readonly Rule[] = [
  closedArticle,
  bodyLength,
  repeatedCharacters,
  links,
  siteWords,
];
