/**
 * The collaborator icon: a speech bubble with a spark.
 */
import { LabIcon } from '@jupyterlab/ui-components';

const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <path class="jp-icon3" fill="#616161" d="M4 3h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2h-7l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm0 2v10h6v1.9L12.4 15H20V5H4z"/>
  <path class="jp-icon-brand0" fill="#1976D2" d="M12 6.2l1.05 2.75L15.8 10l-2.75 1.05L12 13.8l-1.05-2.75L8.2 10l2.75-1.05z"/>
</svg>`;

export const collabIcon = new LabIcon({
  name: 'jupyter-collab:collaborator',
  svgstr: svg
});
