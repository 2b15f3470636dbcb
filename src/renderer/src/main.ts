import { mount } from 'svelte';
import App from './App.svelte';
import { connect } from './lib/client';
import { createJobStore } from './lib/jobs';
import './app.css';

const client = connect();
mount(App, { target: document.getElementById('app')!, props: { client, jobs: createJobStore(client) } });
