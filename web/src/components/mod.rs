//! The page's panels, one file each; a view that is part of a panel sits in the panel's folder.

pub mod backend_banner;
pub mod bench_page;
pub mod chart;
pub mod charts_panel;
pub mod dataset_panel;
pub mod heatmap;
pub mod inside;
pub mod inside_translation;
pub mod lesson_panel;
pub mod lessons_index;
pub mod overlay_chart;
pub mod predictions;
pub mod runs_panel;
pub mod settings_panel;
pub mod training_panel;
pub mod translations;
