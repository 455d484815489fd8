// Relative asset URLs, so the built demo works from any path (npm test serves it at /).
export default { base: './', build: { target: 'es2022' } };
