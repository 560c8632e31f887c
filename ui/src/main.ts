import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';
import { reportFirstFrame } from './lib/first-frame';
import { createPlatform } from './platform';

const target = document.getElementById('app');
if (!target) throw new Error('#app is missing from index.html');

// The desktop's host is there at once; the browser-dev fake is a lazy chunk.
void createPlatform().then((platform) => {
  mount(App, { target, props: { platform } });
  // Once, after the mounted app's first frame is painted.
  reportFirstFrame(platform);
});
