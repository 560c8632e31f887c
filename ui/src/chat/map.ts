// The map of Enviar ubicación: Leaflet (BSD-2), loaded only when the dialog opens (this module
// is imported with `import()`, so Leaflet and its CSS stay out of the main bundle). Tiles come
// from the URL the host gives (its own cached copies of the configured tile server). The pin
// is a divIcon: Leaflet's default marker images break under bundlers.
import L from 'leaflet';
import 'leaflet/dist/leaflet.css';
import './map.css';

export interface PinMap {
  /** Moves the pin (and the view, keeping the zoom unless `zoom` is given). */
  setPin(latitude: number, longitude: number, zoom?: number): void;
  destroy(): void;
}

export interface PinMapOptions {
  latitude: number;
  longitude: number;
  zoom: number;
  tileUrl: string;
  markerLabel: string;
  /** The agent dragged the pin or clicked the map. */
  onMove: (latitude: number, longitude: number) => void;
}

/** OpenStreetMap's required credit (its link is opened by the dialog through the host). */
export const OSM_ATTRIBUTION =
  '© <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors';

const PIN_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="30" height="40" viewBox="0 0 30 40" aria-hidden="true">' +
  '<path d="M15 1C7.3 1 1 7.2 1 14.9 1 25.4 15 39 15 39s14-13.6 14-24.1C29 7.2 22.7 1 15 1z" fill="#c0262d" stroke="#7d1116" stroke-width="2"/>' +
  '<circle cx="15" cy="15" r="5.5" fill="#fff"/></svg>';

export function createPinMap(element: HTMLElement, options: PinMapOptions): PinMap {
  const map = L.map(element, { zoomControl: true, attributionControl: false }).setView(
    [options.latitude, options.longitude],
    options.zoom,
  );
  // No "Leaflet" prefix: its link would navigate the webview away (links go through the host).
  L.control.attribution({ prefix: false }).addTo(map);
  L.tileLayer(options.tileUrl, { maxZoom: 19, attribution: OSM_ATTRIBUTION }).addTo(map);
  const icon = L.divIcon({
    className: 'enlace-pin',
    html: PIN_SVG,
    iconSize: [30, 40],
    iconAnchor: [15, 39],
  });
  const marker = L.marker([options.latitude, options.longitude], {
    draggable: true,
    autoPan: true,
    icon,
    title: options.markerLabel,
    alt: options.markerLabel,
    keyboard: true,
  }).addTo(map);
  marker.on('dragend', () => {
    const at = marker.getLatLng();
    options.onMove(at.lat, at.lng);
  });
  map.on('click', (event: L.LeafletMouseEvent) => {
    marker.setLatLng(event.latlng);
    options.onMove(event.latlng.lat, event.latlng.lng);
  });
  // The dialog may still be laying out when the map is made.
  const resize = setTimeout(() => map.invalidateSize(), 0);
  return {
    setPin(latitude, longitude, zoom) {
      marker.setLatLng([latitude, longitude]);
      map.setView([latitude, longitude], zoom ?? map.getZoom());
    },
    destroy() {
      clearTimeout(resize);
      map.remove();
    },
  };
}
