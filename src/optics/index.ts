/** The optical processing unit simulator: encoders, transmission matrices, camera, cost model, OPU layer, sysid. */
export * from './encoders';
export * from './transmission';
export * from './camera';
export * from './cost';
export * from './opu';
export * from './sysid';
export * from './sysid-quality';
