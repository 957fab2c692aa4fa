// /containers/{id}/exec and /exec/{id}/*: create, start (hijacked or detached), resize, inspect.
import { frame } from '../../containers/container-logs.js';
import type { ExecConfig } from '../../containers/exec-service.js';
import type { Engine } from '../../engine.js';
import { InvalidParameterError } from '../../util/errors.js';
import { Shapes } from '../../util/json-shapes.js';
import { AttachBridge, parseDetachKeys } from '../attach-bridge.js';
import type { Router } from '../router.js';

/** How long an attached exec waits for conmon's exit report after the output closed. */
const EXIT_REPORT_GRACE_MS = 5_000;

export function registerExecRoutes(router: Router, engine: Engine): void {
  const execs = engine.execs;

  router.post('/containers/([^/]+)/exec', async (ctx) => {
    const config = await ctx.jsonObject<ExecConfig>(Shapes.execCreate);
    // Checked now, as dockerd does, rather than when the stream has already switched protocols.
    if (config.DetachKeys) {
      try {
        parseDetachKeys(config.DetachKeys);
      } catch {
        throw new InvalidParameterError(`Invalid escape keys (${config.DetachKeys}) provided`);
      }
    }
    ctx.send(201, { Id: execs.create(ctx.param(), config) });
  });

  router.post('/exec/([^/]+)/start', async (ctx) => {
    const body = (await ctx.json<{ Detach?: boolean; Tty?: boolean }>(Shapes.execStart)) ?? {};
    const session = execs.get(ctx.param());
    if (body.Detach) {
      await execs.start(session.id, undefined);
      ctx.noContent(200);
      return;
    }
    const tty = Boolean(body.Tty ?? session.config.Tty);
    const client = ctx.hijack(tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream');
    const bridge = new AttachBridge(client, {
      tty,
      stdout: session.config.AttachStdout !== false,
      stderr: session.config.AttachStderr !== false,
      stdin: Boolean(session.config.AttachStdin) && ctx.upgrade !== undefined,
      detachKeys: parseDetachKeys(session.config.DetachKeys),
    });
    try {
      const { exited } = await execs.start(session.id, () => bridge.connect(engine.containers.attachSocketDir(), session.id));
      await bridge.done;
      // The CLI reads the exit code from GET /exec/{id}/json right after the stream closes.
      await Promise.race([exited, new Promise((r) => setTimeout(r, EXIT_REPORT_GRACE_MS).unref())]);
    } catch (err) {
      // The stream has switched protocols: the error goes to the client as output on stdout, as
      // dockerd does; the exit code (126) is in the session for the CLI to read.
      const text = Buffer.from(`${err instanceof Error ? err.message : String(err)}\r\n`);
      client.write(tty ? text : frame('stdout', text));
    }
    bridge.close();
  });

  router.post('/exec/([^/]+)/resize', async (ctx) => {
    const { height, width } = ctx.terminalSize();
    await execs.resize(ctx.param(), height, width);
    ctx.noContent(200);
  });

  router.get('/exec/([^/]+)/json', (ctx) => {
    ctx.send(200, execs.inspect(ctx.param()));
  });
}
