// Networks, published ports and DNS (issue 4) with the real CLI: user networks with names and
// aliases, -p/-P over TCP and UDP, --internal, the /etc files, connect/disconnect, and a host left
// without a trace of the engine's bridges, veths or firewall chains afterwards.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { TestEngine, registry, run } from './support/berthd.js';
import { OutsideNetwork } from './support/outside-network.js';

/** A busybox web server answering `text` on port 80. */
function httpd(text: string): string[] {
  return ['busybox', 'sh', '-c', `mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -p 80 -h /www`];
}

async function curl(url: string): Promise<{ code: number; body: string }> {
  const res = await run('curl', ['-s', '-m', '5', url]);
  return { code: res.code, body: res.stdout };
}

function udpRequest(port: number, message: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error('no UDP reply'));
    }, 500);
    socket.on('message', (reply) => {
      clearTimeout(timer);
      socket.close();
      resolve(reply.toString());
    });
    socket.send(message, port, '127.0.0.1');
  });
}

async function hostState(): Promise<{ links: string; rules: string }> {
  const links = (await run('ip', ['-o', 'link', 'show'])).stdout;
  const rules = (await run('iptables-save', [])).stdout;
  return { links, rules };
}

describe('networks: bridges, DNS and published ports', () => {
  let engine: TestEngine;
  const debian = () => `${registry()}/library/debian:latest`;
  let before_: { links: string; rules: string };

  before(async () => {
    before_ = await hostState();
    engine = await TestEngine.start();
    await engine.dockerOk(['pull', '-q', `${registry()}/library/busybox`]);
    await engine.dockerOk(['tag', `${registry()}/library/busybox`, 'busybox']);
    await engine.dockerOk(['pull', '-q', debian()]);
  });
  after(async () => {
    await engine.dispose();
  });

  it('gives the default bridge its own device, an address, a route and dockerd\'s /etc files', async () => {
    const out = await engine.dockerOk(['run', '--rm', '--hostname', 'box', 'busybox', 'sh', '-c', 'ip -4 -o addr show eth0; ip route; cat /etc/hosts /etc/hostname /etc/resolv.conf']);
    const ip = /inet (\d+\.\d+\.\d+\.\d+)\/(\d+)/.exec(out);
    assert.ok(ip, out);
    assert.match(out, /default via \d+\.\d+\.\d+\.1 dev eth0/);
    assert.ok(out.includes(`127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n`), out);
    assert.ok(out.includes(`${ip[1]}\tbox\nbox\n`), out);
    assert.match(out, /^nameserver /m);
    const links = (await run('ip', ['-o', 'link', 'show', engine.bridge])).stdout;
    assert.match(links, new RegExp(`${engine.bridge}:.*state UP|${engine.bridge}:`));
  });

  it('resolves container names and aliases on a user network, to every matching container', async () => {
    await engine.dockerOk(['network', 'create', 'appnet']);
    await engine.dockerOk(['run', '-d', '--name', 'web1', '--network', 'appnet', '--network-alias', 'web', ...httpd('one')]);
    await engine.dockerOk(['run', '-d', '--name', 'web2', '--network', 'appnet', '--network-alias', 'web', ...httpd('two')]);
    const out = await engine.dockerOk(['run', '--rm', '--network', 'appnet', 'busybox', 'sh', '-c', 'cat /etc/resolv.conf; wget -qO- http://web1/; wget -qO- http://web2/; nslookup web 127.0.0.11']);
    assert.match(out, /^nameserver 127\.0\.0\.11$/m);
    assert.match(out, /^options ndots:0$/m);
    assert.match(out, /^one\ntwo\n/m);
    const ip1 = (await engine.dockerOk(['inspect', '-f', '{{.NetworkSettings.Networks.appnet.IPAddress}}', 'web1'])).trim();
    const ip2 = (await engine.dockerOk(['inspect', '-f', '{{.NetworkSettings.Networks.appnet.IPAddress}}', 'web2'])).trim();
    assert.ok(out.includes(`Address: ${ip1}`) && out.includes(`Address: ${ip2}`), out);
    // Names outside the engine go to the host's resolvers: not answered as ours.
    const other = await engine.docker(['run', '--rm', '--network', 'appnet', 'busybox', 'nslookup', 'no-such-name.invalid', '127.0.0.11']);
    assert.notEqual(other.code, 0);
    // The default bridge has no embedded DNS: names do not resolve there.
    const plain = await engine.docker(['run', '--rm', 'busybox', 'timeout', '2', 'wget', '-qO-', 'http://web1/']);
    assert.notEqual(plain.code, 0);
  });

  it('publishes TCP ports on the host, from EXPOSE with -P, and to other containers through the host address', async () => {
    await engine.dockerOk(['run', '-d', '--name', 'pub', '-p', '18081:80', '-p', '127.0.0.1::80', ...httpd('published')]);
    assert.deepEqual(await curl('http://127.0.0.1:18081/'), { code: 0, body: 'published\n' });
    const ports = await engine.dockerOk(['port', 'pub']);
    assert.match(ports, /^80\/tcp -> 0\.0\.0\.0:18081$/m);
    const random = /^80\/tcp -> 127\.0\.0\.1:(\d+)$/m.exec(ports);
    assert.ok(random, ports);
    assert.equal((await curl(`http://127.0.0.1:${random[1]}/`)).body, 'published\n');
    const ps = await engine.dockerOk(['ps', '--filter', 'name=pub', '--format', '{{.Ports}}']);
    assert.match(ps, /0\.0\.0\.0:18081->80\/tcp/);

    // Another container reaches the port at the host's address on its bridge; so does the container itself.
    const gateway = (await engine.dockerOk(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', 'bridge'])).trim();
    assert.equal(await engine.dockerOk(['run', '--rm', 'busybox', 'wget', '-qO-', `http://${gateway}:18081/`]), 'published\n');
    assert.equal(await engine.dockerOk(['exec', 'pub', 'wget', '-qO-', `http://${gateway}:18081/`]), 'published\n');
    // From another network too: the published port is open to it, the network itself is not.
    const appGateway = (await engine.dockerOk(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', 'appnet'])).trim();
    assert.equal(await engine.dockerOk(['run', '--rm', '--network', 'appnet', 'busybox', 'wget', '-qO-', `http://${appGateway}:18081/`]), 'published\n');

    await engine.dockerOk(['commit', '-c', 'EXPOSE 80', 'pub', 'exposing']);
    await engine.dockerOk(['run', '-d', '--name', 'pall', '-P', 'exposing']);
    const all = /0\.0\.0\.0:(\d+)/.exec(await engine.dockerOk(['port', 'pall', '80/tcp']));
    assert.ok(all);
    assert.equal((await curl(`http://127.0.0.1:${all[1]}/`)).body, 'published\n');
  });

  it('resolves compose service names, with published ports and a named volume (docker-compose)', async () => {
    const project = await fs.mkdtemp(path.join(tmpdir(), 'berth-compose-'));
    await fs.writeFile(path.join(project, 'docker-compose.yml'), [
      'version: "3.8"',
      'services:',
      '  web:',
      '    image: busybox',
      `    command: sh -c 'mkdir -p /www && echo from-web > /www/index.html && exec httpd -f -p 80 -h /www'`,
      '    ports: ["18111:80"]',
      '  client:',
      '    image: busybox',
      '    command: sleep 300',
      '    volumes: ["data:/data"]',
      'volumes:',
      '  data: {}',
      '',
    ].join('\n'));
    const compose = (args: string[]) => run('docker-compose', ['-p', 'berthnet', ...args], { cwd: project, env: engine.env() });
    try {
      const up = await compose(['up', '-d']);
      assert.equal(up.code, 0, up.stderr);
      const fromClient = await compose(['exec', '-T', 'client', 'sh', '-c', 'wget -qO- http://web/ && nslookup berthnet_web_1 127.0.0.11 >/dev/null && echo named']);
      assert.equal(fromClient.stdout, 'from-web\nnamed\n', fromClient.stderr);
      assert.equal((await curl('http://127.0.0.1:18111/')).body, 'from-web\n');
      assert.match(await engine.dockerOk(['volume', 'ls', '-q']), /^berthnet_data$/m);
    } finally {
      const down = await compose(['down', '-v']);
      assert.equal(down.code, 0, down.stderr);
      await fs.rm(project, { recursive: true, force: true });
    }
    assert.doesNotMatch(await engine.dockerOk(['network', 'ls', '--format', '{{.Name}}']), /berthnet_default/);
    assert.doesNotMatch(await engine.dockerOk(['volume', 'ls', '-q']), /berthnet_data/);
  });

  it('publishes a UDP port', async () => {
    const server = 'use IO::Socket::INET; my $s = IO::Socket::INET->new(LocalPort => 53, Proto => "udp") or die $!; while ($s->recv(my $m, 1024)) { $s->send("udp-reply $m") }';
    await engine.dockerOk(['run', '-d', '--name', 'udp', '-p', '127.0.0.1:18053:53/udp', debian(), 'perl', '-e', server]);
    let reply = '';
    for (let attempt = 0; attempt < 20 && !reply; attempt++) reply = await udpRequest(18053, 'ping').catch(() => '');
    assert.equal(reply, 'udp-reply ping');
    assert.match(await engine.dockerOk(['port', 'udp']), /^53\/udp -> 127\.0\.0\.1:18053$/m);
  });

  it('reaches networks beyond the host through outbound NAT', async () => {
    const outside = await OutsideNetwork.create('n', 251);
    try {
      const out = await engine.dockerOk(['run', '--rm', 'busybox', 'sh', '-c', outside.fetchCommand()]);
      assert.equal(out, 'outside\n');
    } finally {
      await outside.remove();
    }
  });

  it('fails the start on a busy host port with dockerd\'s message and leaves the container created', async () => {
    const res = await engine.docker(['run', '-d', '--name', 'clash', '-p', '18081:80', 'busybox', 'sleep', '60']);
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /driver failed programming external connectivity on endpoint clash \([0-9a-f]+\): Bind for 0\.0\.0\.0:18081 failed: port is already allocated/);
    assert.equal((await engine.dockerOk(['inspect', '-f', '{{.State.Status}}', 'clash'])).trim(), 'created');
    await engine.dockerOk(['rm', 'clash']);
    // A port another program holds: the userland proxy's bind error.
    const holder = (await import('node:net')).createServer().listen(18099, '127.0.0.1');
    await new Promise((r) => holder.once('listening', r));
    try {
      const busy = await engine.docker(['run', '--rm', '-p', '127.0.0.1:18099:80', 'busybox', 'true']);
      assert.notEqual(busy.code, 0);
      assert.match(busy.stderr, /Error starting userland proxy: listen tcp4 127\.0\.0\.1:18099: bind: address already in use/);
    } finally {
      holder.close();
    }
  });

  it('keeps an --internal network to itself', async () => {
    await engine.dockerOk(['network', 'create', '--internal', 'sealed']);
    const target = (await engine.dockerOk(['inspect', '-f', '{{.NetworkSettings.Networks.appnet.IPAddress}}', 'web1'])).trim();
    const inside = await engine.docker(['run', '--rm', '--network', 'sealed', 'busybox', 'timeout', '3', 'wget', '-qO-', `http://${target}/`]);
    assert.notEqual(inside.code, 0, inside.stdout);
    // The same request from a normal network goes through, so the refusal is the network's doing.
    assert.equal(await engine.dockerOk(['run', '--rm', '--network', 'appnet', 'busybox', 'timeout', '3', 'wget', '-qO-', `http://${target}/`]), 'one\n');
    await engine.dockerOk(['run', '-d', '--name', 'inner', '--network', 'sealed', ...httpd('inner')]);
    assert.equal(await engine.dockerOk(['run', '--rm', '--network', 'sealed', 'busybox', 'wget', '-qO-', 'http://inner/']), 'inner\n');
  });

  it('creates networks with subnet, gateway, ip-range and labels; --ip, --mac-address, --add-host, --dns', async () => {
    await engine.dockerOk(['network', 'create', '--subnet', '10.123.0.0/24', '--gateway', '10.123.0.254', '--ip-range', '10.123.0.128/25', '--label', 'team=net', 'ranged']);
    const inspect = JSON.parse(await engine.dockerOk(['network', 'inspect', 'ranged'])) as { IPAM: { Config: { Subnet: string; Gateway: string; IPRange: string }[] }; Labels: Record<string, string> }[];
    assert.deepEqual(inspect[0]?.IPAM.Config, [{ Subnet: '10.123.0.0/24', Gateway: '10.123.0.254', IPRange: '10.123.0.128/25' }]);
    assert.deepEqual(inspect[0]?.Labels, { team: 'net' });
    const dynamic = await engine.dockerOk(['run', '--rm', '--network', 'ranged', 'busybox', 'ip', '-4', '-o', 'addr', 'show', 'eth0']);
    assert.match(dynamic, /inet 10\.123\.0\.(12[89]|1[3-9]\d|2\d\d)\/24/);
    const fixed = await engine.dockerOk(['run', '--rm', '--network', 'ranged', '--ip', '10.123.0.7', '--add-host', 'db.local:10.9.9.9', '--add-host', 'hostbox:host-gateway', '--dns-search', 'example.test', 'busybox', 'sh', '-c', 'ip -o link show eth0; ip -4 -o addr show eth0; cat /etc/hosts /etc/resolv.conf']);
    assert.match(fixed, /inet 10\.123\.0\.7\/24/);
    // dockerd derives the MAC from the address: 02:42 and the four bytes of 10.123.0.7.
    assert.match(fixed, /link\/ether 02:42:0a:7b:00:07/);
    // CLI 28 sends --mac-address per endpoint only to API 1.44 engines; compose and docker-py
    // send it in the container config, as API 1.43 defines it.
    const created = await engine.request('POST', '/v1.43/containers/create?name=withmac', JSON.stringify({ Image: 'busybox', Cmd: ['ip', '-o', 'link', 'show', 'eth0'], MacAddress: '02:42:0a:00:00:99' }), { 'Content-Type': 'application/json' });
    assert.equal(created.status, 201, created.body);
    assert.match(await engine.dockerOk(['start', '-a', 'withmac']), /link\/ether 02:42:0a:00:00:99/);
    await engine.dockerOk(['rm', 'withmac']);
    assert.match(fixed, /^10\.9\.9\.9\tdb\.local$/m);
    assert.match(fixed, /^\d+\.\d+\.\d+\.1\thostbox$/m);
    assert.match(fixed, /^search example\.test$/m);
    const dns = await engine.dockerOk(['run', '--rm', '--dns', '10.1.1.1', 'busybox', 'cat', '/etc/resolv.conf']);
    assert.match(dns, /^nameserver 10\.1\.1\.1$/m);
    const clash = await engine.docker(['network', 'create', '--subnet', '10.123.0.0/16', 'overlapping']);
    assert.match(clash.stderr, /Pool overlaps with other one on this address space/);
    const badIp = await engine.docker(['run', '--rm', '--ip', '10.123.0.9', 'busybox', 'true']);
    assert.match(badIp.stderr, /user specified IP address is supported on user defined networks only/);
  });

  it('lists, filters, connects and disconnects, and refuses what dockerd refuses', async () => {
    assert.match((await engine.docker(['network', 'create', 'appnet'])).stderr, /network with name appnet already exists/);
    assert.match((await engine.docker(['network', 'rm', 'bridge'])).stderr, /bridge is a pre-defined network and cannot be removed/);
    assert.match((await engine.docker(['network', 'rm', 'appnet'])).stderr, /has active endpoints/);
    assert.match((await engine.docker(['network', 'inspect', 'nosuchnet'])).stderr, /network nosuchnet not found/);
    const names = (await engine.dockerOk(['network', 'ls', '--format', '{{.Name}}'])).split('\n');
    for (const n of ['bridge', 'host', 'none', 'appnet', 'sealed', 'ranged']) assert.ok(names.includes(n), n);
    assert.equal((await engine.dockerOk(['network', 'ls', '-q', '--filter', 'label=team=net'])).trim().length, 12);
    assert.equal((await engine.dockerOk(['network', 'ls', '--filter', 'type=custom', '--format', '{{.Name}}'])).includes('bridge\n'), false);

    await engine.dockerOk(['run', '-d', '--name', 'roamer', 'busybox', 'sleep', '300']);
    await engine.dockerOk(['network', 'connect', '--alias', 'wanderer', 'appnet', 'roamer']);
    assert.match(await engine.dockerOk(['exec', 'roamer', 'ip', '-o', 'link']), /eth1/);
    assert.equal(await engine.dockerOk(['run', '--rm', '--network', 'appnet', 'busybox', 'sh', '-c', 'ping -c1 -W2 wanderer >/dev/null && echo reached']), 'reached\n');
    const members = await engine.dockerOk(['network', 'inspect', '-f', '{{range .Containers}}{{.Name}} {{end}}', 'appnet']);
    assert.match(members, /roamer/);
    await engine.dockerOk(['network', 'disconnect', 'appnet', 'roamer']);
    assert.doesNotMatch(await engine.dockerOk(['exec', 'roamer', 'ip', '-o', 'link']), /eth1/);
    assert.match((await engine.docker(['network', 'disconnect', 'appnet', 'roamer'])).stderr, /is not connected to network appnet/);
  });

  it('runs with --network host, none and container:<name>', async () => {
    const hostName = (await run('hostname', [])).stdout.trim();
    assert.equal((await engine.dockerOk(['run', '--rm', '--network', 'host', 'busybox', 'hostname'])).trim(), hostName);
    assert.ok((await engine.dockerOk(['run', '--rm', '--network', 'host', 'busybox', 'ip', '-o', 'link'])).includes(engine.bridge));
    const none = await engine.dockerOk(['run', '--rm', '--network', 'none', 'busybox', 'ip', '-o', 'link']);
    assert.deepEqual(none.trim().split('\n').map((l) => l.split(':')[1]?.trim()), ['lo']);
    const shared = await engine.dockerOk(['run', '--rm', '--network', 'container:web1', 'busybox', 'wget', '-qO-', 'http://127.0.0.1/']);
    assert.equal(shared, 'one\n');
  });

  it('keeps published ports working while berthd is down and after it restarts', async () => {
    // The kernel forwards published ports: they keep working with no engine at all.
    await engine.stop('SIGKILL');
    assert.equal((await curl('http://127.0.0.1:18081/')).body, 'published\n');
    await engine.start();
    assert.equal((await curl('http://127.0.0.1:18081/')).body, 'published\n');
    assert.equal(await engine.dockerOk(['run', '--rm', '--network', 'appnet', 'busybox', 'wget', '-qO-', 'http://web2/']), 'two\n');
  });

  it('removes networks, and prunes unused ones', async () => {
    await engine.dockerOk(['rm', '-f', 'inner']);
    await engine.dockerOk(['network', 'rm', 'sealed']);
    const pruned = await engine.dockerOk(['network', 'prune', '-f']);
    assert.match(pruned, /ranged/);
    assert.doesNotMatch(pruned, /appnet/);
  });

  it('leaves no bridge, veth or firewall rule behind once its containers and networks are gone', async () => {
    const ids = (await engine.dockerOk(['network', 'ls', '-q', '--filter', 'type=custom'])).split('\n').filter(Boolean);
    await engine.dispose();
    const now = await hostState();
    assert.doesNotMatch(now.links, new RegExp(engine.bridge));
    for (const id of ids) assert.doesNotMatch(now.links, new RegExp(`br-${id}`));
    assert.doesNotMatch(now.rules, new RegExp(`BERTH-(FWD|NAT)-${engine.bridge}`));
    // Nothing else changed either: same veths and rules as before the suite.
    const veths = (s: string) => s.split('\n').filter((l) => /veth/.test(l)).length;
    assert.equal(veths(now.links), veths(before_.links));
    const ruleLines = (s: string) => s.split('\n').filter((l) => l.startsWith('-A')).sort();
    assert.deepEqual(ruleLines(now.rules), ruleLines(before_.rules));
  });
});
