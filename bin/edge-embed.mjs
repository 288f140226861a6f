#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so the packager needs no build step.
import { register } from 'tsx/esm/api';

register();
await import('../model-packager/src/cli.ts');
