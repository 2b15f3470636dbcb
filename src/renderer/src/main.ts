import { mount } from 'svelte';
import App from './App.svelte';
import { connect } from './lib/client';
import './app.css';

mount(App, { target: document.getElementById('app')!, props: { client: connect() } });
