// Guessable passwords (ASVS 5 §6.2.4): zxcvbn-ts estimates how many guesses a password takes,
// matching it against the most common passwords (49,000, far more than the 3,000 asked for),
// French words, first names and last names, keyboard patterns, repeats, sequences and dates.
// The dictionaries ship inside the npm packages: nothing is fetched at run time.
//
// Cost: zxcvbn runs on the event loop and its repeat and l33t matchers grow quickly with the
// length (a 128-character "1234…" took 0.9 s with the defaults). It therefore only reads the
// first STRENGTH_PREFIX code points, with few l33t substitutions (≈ 50 ms at worst here, a few ms
// for a usual password). A password whose first 32 characters are already hard to guess is hard
// to guess; one whose first 32 are weak is refused, which a longer suffix does not excuse.
import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import * as common from '@zxcvbn-ts/language-common';
import * as fr from '@zxcvbn-ts/language-fr';

/** Code points zxcvbn reads. */
export const STRENGTH_PREFIX = 32;
/**
 * Smallest accepted zxcvbn score: 2 means at least about 10^6 guesses. Against this site's
 * online limits (20 untrusted failures per account per 10 minutes) that is decades of guessing;
 * the score does not ask for symbols or digits, so a passphrase of common words passes.
 */
export const MIN_SCORE = 2;

const zxcvbn = new ZxcvbnFactory({
  dictionary: {
    'passwords-common': common.dictionary['passwords-common'],
    'commonWords-fr': fr.dictionary['commonWords-fr'],
    'firstnames-fr': fr.dictionary['firstnames-fr'],
    'lastnames-fr': fr.dictionary['lastnames-fr'],
  },
  graphs: common.adjacencyGraphs,
  translations: fr.translations,
  l33tMaxSubstitutions: 4,
  maxLength: STRENGTH_PREFIX,
});

/**
 * Why `password` is too easy to guess, in French, or undefined when it is acceptable.
 * `userInputs` are words of the account (names, email) that make a password weaker.
 */
export function weakPasswordReason(password: string, userInputs: string[] = []): string | undefined {
  const prefix = Array.from(password).slice(0, STRENGTH_PREFIX).join('');
  const r = zxcvbn.check(
    prefix,
    userInputs.filter((w) => w.length > 0),
  );
  if (r.score >= MIN_SCORE) return undefined;
  const warning = r.feedback.warning?.replace(/\.$/, '');
  const why = warning ? ` : ${warning.charAt(0).toLowerCase()}${warning.slice(1)}` : '';
  return `ce mot de passe est trop facile à deviner${why}. Choisissez par exemple une phrase de plusieurs mots sans rapport avec vous.`;
}
