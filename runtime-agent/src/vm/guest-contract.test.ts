// The host↔guest contract: the kernel words the host formats are what the guest parses back, words
// the guest cannot use are refused with a reason (never half-applied), and berth-init, which must
// stay shell, prints the milestones and acts on the exit code the contract names.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

import fc from 'fast-check';

import {
  BOOT_MILESTONES,
  GUEST_EXIT_CODES,
  INIT_MILESTONES,
  formatBootArguments,
  formatMilestone,
  milestoneUptime,
  parseBootArguments,
  readMilestones,
  sharePathProblem,
  type GuestBootArguments,
} from './guest-contract.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ2y5cQ3mQ9V0lV2oHc8G4n7o1r9j3cXr3kQ2YxkF0aZ berth@host';
const BERTH_INIT = path.resolve(import.meta.dirname, '../../../vm-image/rootfs/berth-init');

/** As the guest reads it: the kernel's own words around ours, and the newline /proc/cmdline ends with. */
const cmdline = (words: string[]) => `console=ttyS0 tsc=reliable quiet panic=-1 ${words.join(' ')}\n`;

describe('guest contract: kernel arguments', () => {
  it('reads back what the host wrote: key, shares of both kinds, debug shell', () => {
    const args: GuestBootArguments = {
      authorizedKey: KEY,
      shares: [
        { tag: 'share0', kind: '9p', path: '/Users/me' },
        { tag: 'share1', kind: 'virtiofs', path: '/tmp/berth-vm-x/shared' },
      ],
      debugShell: true,
    };
    const words = formatBootArguments(args);
    assert.deepEqual(words.map((w) => w.split('=')[0]), ['berth.authorized_key', 'berth.share', 'berth.share', 'berth.debug']);
    assert.deepEqual(parseBootArguments(cmdline(words)), { arguments: args, problems: [] });
  });

  it('hands the key over in base64, so its spaces do not split the word', () => {
    const [word] = formatBootArguments({ authorizedKey: `  ${KEY}\n`, shares: [], debugShell: false });
    assert.equal(word, `berth.authorized_key=${Buffer.from(KEY).toString('base64')}`);
    assert.equal(parseBootArguments(word!).arguments.authorizedKey, KEY);
  });

  it('keeps paths with ":", spaces, quotes, "%" and non-ASCII intact, in words the kernel does not split', () => {
    const paths = ['/Volumes/C:/src', '/home/me/My Projects/a "quoted" dir', '/srv/100%/done', '/home/zoë/日本', '/a:virtiofs', '/x/%41'];
    const shares = paths.map((p, i) => ({ tag: `s${i}`, kind: '9p' as const, path: p }));
    const words = formatBootArguments({ shares, debugShell: false });
    for (const word of words) assert.match(word, /^[\x21-\x7e]+$/, `${word} is one printable word`);
    assert.ok(!words.some((w) => w.includes('"')));
    assert.deepEqual(parseBootArguments(cmdline(words)).arguments.shares, shares);
  });

  it('round-trips any key line and any path the guest accepts (property)', () => {
    const segment = fc.string({ minLength: 1, maxLength: 12, unit: 'grapheme' }).filter((s) => !s.includes('/') && s !== '.' && s !== '..' && !s.includes('\0'));
    const sharePath = fc.array(segment, { minLength: 1, maxLength: 4 }).map((parts) => `/${parts.join('/')}`).filter((p) => sharePathProblem(p) === undefined);
    const arb = fc.record({
      authorizedKey: fc.option(fc.tuple(fc.constantFrom('ssh-ed25519', 'ssh-rsa', 'ecdsa-sha2-nistp256'), fc.base64String({ minLength: 4, maxLength: 80 }).filter((b) => b.length > 0), fc.string({ maxLength: 20 }).filter((c) => !/[\r\n\0]/.test(c)))
        .map(([type, body, comment]) => (comment.trim() ? `${type} ${body} ${comment.trim()}` : `${type} ${body}`)), { nil: undefined }),
      shares: fc.uniqueArray(fc.record({ tag: fc.stringMatching(/^[A-Za-z0-9_-]{1,31}$/), kind: fc.constantFrom('9p' as const, 'virtiofs' as const), path: sharePath }, { noNullPrototype: true }), { selector: (s) => s.tag, maxLength: 4 }),
      debugShell: fc.boolean(),
    }, { noNullPrototype: true });
    fc.assert(fc.property(arb, (args) => {
      const expected: GuestBootArguments = { shares: args.shares, debugShell: args.debugShell, ...(args.authorizedKey === undefined ? {} : { authorizedKey: args.authorizedKey }) };
      const parsed = parseBootArguments(cmdline(formatBootArguments(expected)));
      assert.deepEqual(parsed, { arguments: expected, problems: [] });
    }));
  });

  it('writes no berth.debug word unless asked, and reads none as off', () => {
    const words = formatBootArguments({ authorizedKey: KEY, shares: [], debugShell: false });
    assert.ok(!words.some((w) => w.startsWith('berth.debug')));
    assert.equal(parseBootArguments(cmdline(words)).arguments.debugShell, false);
    assert.equal(parseBootArguments('berth.debug=0').arguments.debugShell, false);
  });

  it("skips the kernel's own words, quoted ones included, without a problem", () => {
    const parsed = parseBootArguments('BOOT_IMAGE=/vmlinux root=/dev/vda "dyndbg=file foo.c +p" init=/sbin/berth-init berthd=1 xberth.debug=1\n');
    assert.deepEqual(parsed, { arguments: { shares: [], debugShell: false }, problems: [] });
  });

  it('refuses unknown and malformed berth.* words one by one, keeping the good ones', () => {
    const good = formatBootArguments({ authorizedKey: KEY, shares: [{ tag: 'ok', kind: '9p', path: '/Users' }], debugShell: false });
    const bad = [
      'berth.ssh_port=2222', // never sent by the host: the guest's SSH port is GUEST_SSH_PORT
      'berth.debug=yes',
      'berth.debug',
      'berth.share=nokind',
      'berth.share=t1:nfs:/x',
      'berth.share=b@d:9p:/x',
      'berth.share=t2:9p:relative/path',
      'berth.share=t3:9p:/',
      'berth.share=t4:9p:/var',
      'berth.share=t5:9p:/proc/sys',
      'berth.share=t6:9p:/a/../etc',
      'berth.share=t7:9p:/broken%zz',
      'berth.share=ok:virtiofs:/again', // the tag is taken
      'berth.authorized_key=not*base64',
      `berth.authorized_key=${Buffer.from('just text').toString('base64')}`,
      `berth.authorized_key=${Buffer.from(`${KEY}\nssh-ed25519 AAAAsecond`).toString('base64')}`,
      'berth.authorized_key=QQ==QUJD', // padding in the middle: atob would take it
      `berth.authorized_key=${Buffer.from(KEY).toString('base64')}`, // a second key
    ];
    const { arguments: args, problems } = parseBootArguments(cmdline([...good, ...bad]));
    assert.deepEqual(args, { authorizedKey: KEY, shares: [{ tag: 'ok', kind: '9p', path: '/Users' }], debugShell: false });
    // Each bad word is named in exactly one problem.
    assert.equal(problems.length, bad.length, problems.join('\n'));
    assert.match(problems[0]!, /berth\.ssh_port=2222.*unknown/);
    for (const problem of problems) assert.match(problem, /^boot argument ".*" ignored: .+/);
  });

  it('cuts a huge word short in its problem', () => {
    const { problems } = parseBootArguments(`berth.nonsense=${'x'.repeat(10_000)}`);
    assert.equal(problems.length, 1);
    assert.ok(problems[0]!.length < 300);
  });

  it('refuses on the host what the guest would refuse, before anything boots', () => {
    assert.throws(() => formatBootArguments({ shares: [{ tag: 'a', kind: '9p', path: 'C:\\Users\\me' }], debugShell: false }), /not an absolute path/);
    assert.throws(() => formatBootArguments({ shares: [{ tag: 'a', kind: '9p', path: '/' }], debugShell: false }), /would hide/);
    assert.throws(() => formatBootArguments({ shares: [{ tag: 'a', kind: '9p', path: '/var/lib' }], debugShell: false }), /would hide the guest's \/var\/lib\/berth/);
    assert.throws(() => formatBootArguments({ shares: [{ tag: 'a', kind: '9p', path: '/x/\uD800y' }], debugShell: false }), /not valid Unicode/);
    assert.throws(() => formatBootArguments({ shares: [{ tag: 'bad tag', kind: '9p', path: '/x' }], debugShell: false }), /share tag/);
    assert.throws(() => formatBootArguments({ shares: [{ tag: 'a', kind: '9p', path: '/x' }, { tag: 'a', kind: '9p', path: '/y' }], debugShell: false }), /used twice/);
    assert.throws(() => formatBootArguments({ authorizedKey: 'not a key\nat all', shares: [], debugShell: false }), /one line/);
  });

  it('lets shares sit at ordinary host paths, inside /tmp, /home, /Users and /usr/local too', () => {
    for (const ok of ['/Users/me', '/home/me', '/tmp/x', '/root', '/usr/local/src/proj', '/var/folders/x', '/mnt/c']) assert.equal(sharePathProblem(ok), undefined, ok);
  });
});

describe('guest contract: boot milestones and exit codes', () => {
  it('writes milestone lines the host reads back with their uptime, in order, across restarts', () => {
    const console = [
      '[    0.000000] Linux version 6.1',
      formatMilestone('initStarted', '2.71'),
      'berth: data disk check: berth-data: clean, 11/524288 files',
      formatMilestone('berthdStarting', '3.80'),
      'time="2026-12-07T09:00:00Z" level=info msg="berthd is ready"',
      formatMilestone('guestConfigured', '6.02'),
      formatMilestone('engineReady', '8.50'),
      'berth: berthd exited with 137, restarting',
      formatMilestone('guestConfigured', '40.1'),
      formatMilestone('engineReady', '43'),
    ].join('\r\n'); // the serial console ends lines with CR LF
    assert.deepEqual(readMilestones(console).map((m) => m.milestone), ['initStarted', 'berthdStarting', 'guestConfigured', 'engineReady', 'guestConfigured', 'engineReady']);
    assert.equal(milestoneUptime(console, 'initStarted'), 2.71);
    assert.equal(milestoneUptime(console, 'engineReady'), 43);
    assert.equal(milestoneUptime('', 'engineReady'), undefined);
  });

  it("matches berth-init: its milestone lines, the ones it prints, and the power-off code it acts on", () => {
    const script = readFileSync(BERTH_INIT, 'utf8');
    // berth-init's at() writes formatMilestone's line: "berth: <text> at <uptime>s".
    const at = /^at\(\) \{ echo "(.*)" >\/dev\/console; \}$/m.exec(script)?.[1];
    assert.equal(at, formatMilestone('initStarted', '$(cut -d\' \' -f1 /proc/uptime)').replace(BOOT_MILESTONES.initStarted, '$1'));
    const printed = [...script.matchAll(/^at "([^"]+)"$/gm)].map((m) => m[1]);
    assert.deepEqual(printed, INIT_MILESTONES.map((m) => BOOT_MILESTONES[m]));
    assert.match(script, new RegExp(`^  \\[ "\\$code" = ${GUEST_EXIT_CODES.powerOff} \\] && break$`, 'm'));
    // The kernel command line is berthd's to read (cli/berthd-vm.ts), not the shell's.
    assert.doesNotMatch(script, /\/proc\/cmdline|berth\.[a-z_]+=/);
  });
});
