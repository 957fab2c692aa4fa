// BuildKit's two endpoints, as dockerd has them: POST /grpc (the Control service, over h2c on the
// hijacked connection) and POST /session (the client's session services, the other way round).
import type { Engine } from '../../engine.js';
import { ConflictError, InvalidParameterError } from '../../util/errors.js';
import type { Router } from '../router.js';

export function registerBuildKitRoutes(router: Router, engine: Engine): void {
  router.post('/grpc', async (ctx) => {
    engine.buildkit.serveControl(ctx.switchProtocols('h2c'));
  });

  router.post('/session', async (ctx) => {
    const headers = {
      id: ctx.header('x-docker-expose-session-uuid'),
      name: ctx.header('x-docker-expose-session-name'),
      sharedKey: ctx.header('x-docker-expose-session-sharedkey'),
      methods: ctx.headerValues('x-docker-expose-session-grpc-method'),
    };
    if (!headers.id) throw new InvalidParameterError('X-Docker-Expose-Session-Uuid is required');
    if (engine.buildkit.sessions.has(headers.id)) throw new ConflictError(`session ${headers.id} is already connected`);
    engine.buildkit.attachSession(ctx.switchProtocols('h2c'), headers);
  });
}
