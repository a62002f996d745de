// The shared text rules: what a name, a listing title or a description may not contain, and
// what a password may not resemble.
import { invisibleCharacter, invisibleReason, passwordResemblesIdentity, unreadableNameReason } from '../src/text';

const BIDI = [0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069, 0x200e, 0x200f, 0x061c];
const INVISIBLE = [0x200b, 0x200c, 0x2060, 0xfeff, 0x00ad, 0x180e, 0x2061, 0x3164, 0x115f, 0xffa0, 0x034f, 0xe0041];

test('every bidi control and invisible character is found, wherever it stands', () => {
  for (const cp of [...BIDI, ...INVISIBLE]) {
    const c = String.fromCodePoint(cp);
    for (const text of [`${c}Livre`, `Li${c}vre`, `Livre${c}`]) expect(invisibleCharacter(text)).toBe(cp);
  }
  // A lone zero-width joiner or variation selector hides nothing useful: refused.
  expect(invisibleCharacter('Li\u200Dvre')).toBe(0x200d);
  expect(invisibleCharacter('\uFE0FLivre')).toBe(0xfe0f);
  expect(invisibleCharacter('Livre \uFE0F')).toBe(0xfe0f);
});

test('ordinary text, accents, tabs and emoji sequences are accepted', () => {
  for (const ok of [
    'Manuel de physique, 3ᵉ édition',
    'Électricité — « cours » ½',
    'Père Noël 🎅🏽',
    'Étudiante 👩‍🎓',
    'J’adore ❤️',
    'Feu ❤️‍🔥',
    'Famille 👨‍👩‍👧‍👦',
    'ligne\tcolonne',
    'مرحبا',
    'שלום',
  ]) {
    expect(invisibleCharacter(ok)).toBeUndefined();
  }
});

test('the reason names the character and says why, in French', () => {
  expect(invisibleReason('le titre', 0x202e)).toBe(
    "le titre contient un caractère de contrôle de direction du texte (U+202E), qui n'est pas accepté : retapez le texte sans le copier-coller.",
  );
  expect(invisibleReason('la description', 0x200b)).toMatch(/^la description contient un caractère invisible \(U\+200B\)/);
});

describe('a password resembling the account (ASVS 5 §6.2.11)', () => {
  const who = { email: 'Elodie.Lefevre@etu.example', firstName: 'Élodie', lastName: 'Lefèvre' };
  test.each([
    ['elodie.lefevre@etu.example', 'adresse e-mail'],
    ['ELODIE.LEFEVRE@ETU.EXAMPLE', 'adresse e-mail'],
    ['mon elodie.lefevre à moi', 'partie avant'],
    ['Élodie2026!', 'prénom'],
    ['ELODIE-en-vacances', 'prénom'],
    ['superlefevre99', 'nom'],
    ['Lefèvre&Co-2026', 'nom'],
  ])('%s is refused (%s)', (pw, what) => {
    expect(passwordResemblesIdentity(pw, who)).toContain(what);
  });
  test('other passwords, and very short names inside a password, are accepted', () => {
    expect(passwordResemblesIdentity('une phrase de passe tranquille', who)).toBeUndefined();
    const short = { email: 'li@etu.example', firstName: 'Bo', lastName: 'Li' };
    expect(passwordResemblesIdentity('bonjour la liberté', short)).toBeUndefined();
    expect(passwordResemblesIdentity('li', short)).toContain('adresse e-mail');
    expect(passwordResemblesIdentity('BO', short)).toContain('prénom');
  });
});

test('a name reads as one: at least a letter, no accent before it', () => {
  for (const name of ["O'Neil", 'Jean-Luc', 'Zoë', 'Zoe\u0308', '李', 'محمد', 'Nguyễn', 'É', 'Anne-Marie 2', 'Ōe']) {
    expect(unreadableNameReason(name, 'le prénom')).toBeUndefined();
  }
  for (const name of ['\u0301\u0301', '\u0301', '\u20dd', "-'.", '…', '42', '★✓', '😀', '👩‍🎓']) {
    expect(unreadableNameReason(name, 'le prénom')).toBe('le prénom doit contenir au moins une lettre.');
  }
  expect(unreadableNameReason('\u0301Jean', 'le nom')).toBe('le nom ne peut pas commencer par un accent seul.');
});
